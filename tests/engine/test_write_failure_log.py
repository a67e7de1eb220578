"""A run of failed store writes is said in a few lines, not a traceback every flush: the first failure in
full (one traceback for an unexpected kind of failure), then one line now and then with a running count."""

from __future__ import annotations

import logging

import pytest

from oee_tui.engine.live.store_health import REPEAT_WARNING_S, Unsaved, WriteFailures

WAITING = Unsaved(120, 2, 1, 40, 0)


def test_repeated_failures_are_one_line_each_now_and_then_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    failures = WriteFailures(lambda: now[0], "/data", 2.0)
    caplog.set_level(logging.WARNING)
    surprise = RuntimeError("a bug")
    for _ in range(60):  # two minutes of a flush every 2 s, all failing the same unexpected way
        failures.failed("RuntimeError: a bug", surprise, WAITING, now[0], expected=False)
        now[0] += 2.0
    failures.saved(now[0], "121 rows")
    lines = [record.getMessage() for record in caplog.records]
    tracebacks = [record for record in caplog.records if record.exc_info]
    assert len(tracebacks) == 1
    assert 3 <= len(lines) <= 2 + 120 / REPEAT_WARNING_S + 2
    assert lines[1].startswith("store writes are failing (RuntimeError: a bug)")
    repeats = [line for line in lines if "still failing" in line]
    assert repeats and all("attempts" in line for line in repeats)
    assert lines[-1].startswith("store writes work again after 120 s and 60 failed attempts")
