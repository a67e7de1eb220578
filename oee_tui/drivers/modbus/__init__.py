"""Modbus TCP: the source kind (modbus_source) and its polling driver (modbus_driver)."""
