"""Quality alerts, evaluated live in the engine: the rules' conditions over what the engine holds in memory
(`conditions.py`), the monitor that raises, de-duplicates, clears and saves them (`monitor.py`), and what
reacts to them outside the process (the command hook, MQTT).

The engine imports this package; it imports the store, MQTT, config and the domain types, never the engine.
"""

from oee_tui.alerts.conditions import LatestValue
from oee_tui.alerts.monitor import AlertListener, AlertMonitor, AlertUpdate

__all__ = ["AlertListener", "AlertMonitor", "AlertUpdate", "LatestValue"]
