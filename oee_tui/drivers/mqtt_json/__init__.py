"""Generic MQTT with JSON or plain payloads: the source kind (mqtt_json_source) and its driver (mqtt_json_driver)."""
