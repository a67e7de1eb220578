"""Issue 17: `[[alerts.rules]]` read strictly; every error names the rule and the key to fix."""

from __future__ import annotations

import pytest

from oee_tui.config import ConfigError
from oee_tui.model import AlertKind, EventKind, Severity
from tests.alerts.test_rule_kinds import SPARKPLUG, plant


def test_a_full_alerts_section_reads() -> None:
    config = plant(SPARKPLUG + """
[alerts]
on_alert = "/usr/local/bin/andon --alert"
hook_timeout_s = 5
mqtt_topic = "plant/alerts"

[[alerts.rules]]
id = "speed-high"
kind = "value_range"
severity = "critical"
source = "plc"
tag = "hr:5"
min = 10
max = 120
for_s = 3

[[alerts.rules]]
id = "down"
kind = "machine_down"
machine = "M1"
for_min = 5

[[alerts.rules]]
id = "resets"
kind = "counter_event"
events = ["counter_reset"]

[[alerts.rules]]
id = "capper-dead"
kind = "sparkplug_death"
source = "broker"
node = "Plant/Edge1"
device = "Capper"
""")
    speed, down, resets, dead = config.alerts.rules
    assert (speed.kind, speed.severity, speed.low, speed.high, speed.for_s) == (
        AlertKind.VALUE_RANGE, Severity.CRITICAL, 10, 120, 3)
    assert (down.machine, down.for_s, down.severity) == ("M1", 300, Severity.WARNING)
    assert resets.events == (EventKind.COUNTER_RESET,)
    assert (dead.node, dead.device) == ("Plant/Edge1", "Capper")
    assert (config.alerts.on_alert, config.alerts.hook_timeout_s, config.alerts.mqtt_topic) == (
        "/usr/local/bin/andon --alert", 5, "plant/alerts")


@pytest.mark.parametrize(("rule", "key", "says"), [
    ('id = "x"\nkind = "too_hot"', "alerts.rules[x].kind", "must be one of"),
    ('id = "x"\nkind = "machine_down"\nmachine = "M9"', "alerts.rules[x].machine", "not a machine"),
    ('id = "x"\nkind = "value_range"\nsource = "plc"\ntag = "hr:99"\nmax = 1', "alerts.rules[x].tag",
     "not a tag a machine's tag map reads"),
    ('id = "x"\nkind = "value_range"\nsource = "plc"\ntag = "hr:5"', "alerts.rules[x].max", "give min, max or both"),
    ('id = "x"\nkind = "value_range"\nsource = "plc"\ntag = "hr:5"\nmin = 5\nmax = 1', "alerts.rules[x].max",
     "at least min"),
    ('id = "x"\nkind = "machine_down"\nseverity = "loud"', "alerts.rules[x].severity", "must be one of"),
    ('id = "x"\nkind = "machine_down"\nfor_s = 1\nfor_min = 1', "alerts.rules[x].for_min", "not both"),
    ('id = "x"\nkind = "machine_down"\nmax = 1', "alerts.rules[x].max", "not a known key"),
    ('id = "x"\nkind = "scrap_rate"\nmax_scrap_pct = 100', "alerts.rules[x].max_scrap_pct", "below 100"),
    ('id = "x"\nkind = "counter_event"\nevents = ["fire"]', "alerts.rules[x].events", "counter_reset"),
    ('id = "x"\nkind = "sparkplug_death"\nsource = "plc"', "alerts.rules[x].source", "not a sparkplug source"),
    ('id = "x"\nkind = "source_offline"\nsource = "nope"', "alerts.rules[x].source", "not a source"),
    ('kind = "source_offline"', "alerts.rules[0].id", "missing"),
])
def test_a_bad_rule_names_its_key(rule: str, key: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        plant(f"\n[[alerts.rules]]\n{rule}\n")
    assert caught.value.key == key and says in caught.value.expected, str(caught.value)


def test_two_rules_with_one_id_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"alerts.rules\[x\].id.*used twice"):
        plant('\n[[alerts.rules]]\nid = "x"\nkind = "machine_down"\n'
              '[[alerts.rules]]\nid = "x"\nkind = "source_offline"\n')


def test_a_topic_with_a_wildcard_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"alerts\.mqtt_topic"):
        plant('\n[alerts]\nmqtt_topic = "plant/#"\n')
