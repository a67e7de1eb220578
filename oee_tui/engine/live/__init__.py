"""The live pipeline: acquisition per source, machine trackers, counters, the engine and its snapshots."""
