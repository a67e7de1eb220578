"""The live pipeline: acquisition per source, routing samples to the machine trackers (states and
counters), writing facts to the store, the plant snapshot and a machine's shift detail, and the
engine that composes them."""
