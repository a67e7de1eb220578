"""Sparkplug B host application: the source kind (sparkplug_source), the host (host_driver), run in a worker
process (process, worker) that sends its samples back in frames (frames)."""
