"""oee-tui: OEE in the terminal."""
__version__ = "0.1.0"
