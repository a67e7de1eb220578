"""The engine as a service: the Unix-socket API that the TUI and `oee` commands attach to, who may do
what through it, and what the service shows the outside (metrics, readiness).

The process that owns the store (`oee engine`, or the first TUI when no engine runs) serves it;
everyone else attaches. Nothing here imports Textual or rich.
"""
