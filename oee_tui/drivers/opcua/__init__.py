"""OPC UA: the source kind (opcua_source), the subscribing driver (opcua_driver) and certificates (security)."""
