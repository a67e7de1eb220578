"""The Sparkplug B edge node: publishes the plant the engine sees, as an observer of its output."""
