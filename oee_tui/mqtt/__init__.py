"""MQTT / Sparkplug B host application: codec, metric decoding, topics."""
