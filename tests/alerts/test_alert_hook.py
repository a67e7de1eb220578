"""Issue 17: `[alerts] on_alert` runs at each raise and clear with the alert in its environment, within its
time limit, never holding up the engine; its failures are logged and carried to the screens and `oee status`."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest

from oee_tui.alerts.alert_hook import AlertHook
from oee_tui.engine.live.engine import Engine
from oee_tui.model import AlertAction, TagSample
from oee_tui.runtime import build_engine
from tests.alerts.test_rule_kinds import T0, Clock, plant

RULE = """
[[alerts.rules]]
id = "speed-high"
kind = "value_range"
severity = "critical"
source = "plc"
tag = "hr:5"
max = 120
"""


def engine_with_hook(command: str, timeout_s: float = 10.0) -> tuple[Engine, Clock, AlertHook]:
    clock = Clock()
    config = plant(f"\n[alerts]\non_alert = {command!r}\nhook_timeout_s = {timeout_s}\n" + RULE)
    engine = build_engine(config, None, clock=clock, acquire=False)
    [hook] = [listener for listener in engine.alerts.listeners if isinstance(listener, AlertHook)]
    return engine, clock, hook


def speed(engine: Engine, clock: Clock, at: float, value: float) -> list[AlertAction]:
    clock.now = T0 + at
    engine.ingest([TagSample(T0 + at, "plc", "hr:5", value)])
    engine.tick()
    return [event.action for _alert, event in engine.check_alerts()]


async def test_the_hook_gets_the_alert_in_its_environment_at_raise_and_clear(tmp_path: Path) -> None:
    out = tmp_path / "andon.txt"
    engine, clock, hook = engine_with_hook(f"env | grep ^OEE_ALERT_ | sort >> {shlex.quote(str(out))}; "
                                           f"echo --- >> {shlex.quote(str(out))}")
    assert speed(engine, clock, 0, 130) == [AlertAction.RAISED]
    await hook.wait()
    assert speed(engine, clock, 1, 100) == [AlertAction.CLEARED]
    await hook.wait()
    raised, cleared, _ = out.read_text().split("---\n")
    assert dict(line.split("=", 1) for line in raised.splitlines()) == {
        "OEE_ALERT_ID": "1", "OEE_ALERT_EVENT": "raised", "OEE_ALERT_RULE": "speed-high",
        "OEE_ALERT_KIND": "value_range", "OEE_ALERT_SEVERITY": "critical", "OEE_ALERT_SUBJECT": "plc/hr:5",
        "OEE_ALERT_MESSAGE": "hr:5 = 130, outside […, 120]", "OEE_ALERT_RAISED_AT": "2026-09-21T14:13:20+00:00",
        "OEE_ALERT_CLEARED_AT": "", "OEE_ALERT_TIME": "2026-09-21T14:13:20+00:00", "OEE_ALERT_SITE": "Test plant"}
    assert "OEE_ALERT_EVENT=cleared" in cleared and "OEE_ALERT_CLEARED_AT=2026-09-21T14:13:21+00:00" in cleared
    assert (hook.runs, hook.failures, hook.problem) == (2, 0, None)
    assert engine.snapshot().alert_problem is None


async def test_a_hook_that_hangs_is_killed_at_its_timeout_without_holding_up_the_engine(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    child = tmp_path / "child.pid"
    # The shell starts a child that would outlive it: the whole process group is killed.
    engine, clock, hook = engine_with_hook(f"sleep 60 & echo $! > {shlex.quote(str(child))}; wait", timeout_s=0.5)
    started = time.monotonic()
    assert speed(engine, clock, 0, 130) == [AlertAction.RAISED]
    assert time.monotonic() - started < 0.2  # the tick went on; the hook runs on its own
    await hook.wait()
    assert hook.problem is not None and hook.problem.startswith(
        "on_alert for alert 1 (raised) timed out after 0.5 s and was killed at ")
    assert hook.problem in caplog.text
    assert engine.snapshot().alert_problem == hook.problem
    pid = int(child.read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


async def test_a_failing_hook_is_said_until_a_run_succeeds(tmp_path: Path) -> None:
    flag = tmp_path / "fail"
    flag.write_text("")
    engine, clock, hook = engine_with_hook(
        f"if [ -e {shlex.quote(str(flag))} ]; then echo 'pager gateway: 503' >&2; exit 3; fi")
    speed(engine, clock, 0, 130)
    await hook.wait()
    assert hook.problem is not None and hook.problem.startswith(
        "on_alert for alert 1 (raised) exited with 3: pager gateway: 503 at ")
    assert engine.snapshot().alert_problem == hook.problem
    flag.unlink()
    speed(engine, clock, 1, 100)
    await hook.wait()
    assert hook.problem is None and engine.snapshot().alert_problem is None
    assert (hook.runs, hook.failures) == (2, 1)


async def test_no_hook_configured_runs_nothing() -> None:
    clock = Clock()
    engine = build_engine(plant(RULE), None, clock=clock, acquire=False)
    [hook] = [listener for listener in engine.alerts.listeners if isinstance(listener, AlertHook)]
    speed(engine, clock, 0, 130)
    await hook.wait()
    assert hook.runs == 0
