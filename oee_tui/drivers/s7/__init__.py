"""Siemens S7 over ISO-on-TCP: the source kind (s7_source), its addresses (address) and its driver (s7_driver)."""
