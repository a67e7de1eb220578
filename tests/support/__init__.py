"""Helpers every test package shares: waiting for a condition, and letting a Textual app settle."""
