"""Log lines as text (as before) or one JSON object a line, with `extra` fields and tracebacks kept."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from oee_tui.cli import SAMPLE_CONFIG, _log_format, build_parser
from oee_tui.drivers.registry import parse_config
from oee_tui.log_setup import JsonFormatter, setup_logging


@contextlib.contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger without pytest's capture handlers, as a fresh `oee` process has it; restored after.
    Entered in the test's body: pytest adds its handlers for the call phase after the fixtures ran."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    try:
        yield root
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def record(message: str, *args: object, level: int = logging.WARNING, **extra: object) -> logging.LogRecord:
    made = logging.getLogger("oee_tui.engine.live.fact_writer").makeRecord(
        "oee_tui.engine.live.fact_writer", level, "fact_writer.py", 7, message, args, None, extra=extra)
    made.created = 1_765_000_000.25  # 2025-12-06T05:46:40.250Z
    return made


def test_a_json_line_holds_time_level_logger_message_and_the_extra_fields() -> None:
    line = JsonFormatter().format(record("store writes are failing (%s)", "no space left", source="plc1", rows=3))
    assert "\n" not in line
    assert json.loads(line) == {"ts": "2025-12-06T05:46:40.250+00:00", "level": "WARNING",
                                "logger": "oee_tui.engine.live.fact_writer",
                                "message": "store writes are failing (no space left)", "source": "plc1", "rows": 3}


def test_a_traceback_travels_in_exc_and_an_unserialisable_extra_as_its_repr() -> None:
    try:
        raise ValueError("bad register\nsecond line")
    except ValueError:
        failed = logging.getLogger("x").makeRecord("x", logging.ERROR, "f.py", 1, "tick failed", (),
                                                   sys.exc_info(), extra={"path": Path("/srv/oee")})
    entry = json.loads(JsonFormatter().format(failed))
    assert entry["message"] == "tick failed" and entry["level"] == "ERROR"
    assert entry["exc"].startswith("Traceback") and "ValueError: bad register\nsecond line" in entry["exc"]
    assert entry["path"] == repr(Path("/srv/oee"))


def test_json_logging_to_a_file_writes_one_object_per_line(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "oee.log"
    with bare_root():
        setup_logging(False, log_file, "json")
        logging.getLogger("oee.engine").info("engine running on %s", "Plant 1", extra={"pid": 42})
        logging.getLogger("oee.engine").debug("not at info level")
        logging.getLogger("pymodbus").warning("reconnect noise stays out below error")
    [line] = log_file.read_text(encoding="utf-8").splitlines()
    entry = json.loads(line)
    assert (entry["logger"], entry["message"], entry["pid"]) == ("oee.engine", "engine running on Plant 1", 42)


def test_text_logging_keeps_its_format_and_verbose_shows_debug(tmp_path: Path) -> None:
    log_file = tmp_path / "oee.log"
    with bare_root():
        setup_logging(True, log_file)
        logging.getLogger("oee.engine").debug("flush took %d ms", 3)
    [line] = log_file.read_text(encoding="utf-8").splitlines()
    assert line.endswith(" DEBUG oee.engine: flush took 3 ms") and line[:4].isdigit()


def test_a_root_logger_that_already_has_handlers_is_left_alone(tmp_path: Path) -> None:
    existing = logging.NullHandler()
    with bare_root() as root:
        root.addHandler(existing)
        setup_logging(False, tmp_path / "oee.log", "json")
        assert root.handlers == [existing] and not (tmp_path / "oee.log").exists()


def test_the_option_wins_over_the_config_which_wins_over_text() -> None:
    json_config = parse_config(SAMPLE_CONFIG + '\n[service]\nlog_format = "json"\n')
    text_config = parse_config(SAMPLE_CONFIG)
    parser = build_parser()
    assert _log_format(parser.parse_args(["engine"]), json_config) == "json"
    assert _log_format(parser.parse_args(["engine"]), text_config) == "text"
    assert _log_format(parser.parse_args(["engine"]), None) == "text"  # the demo: no config file
    assert _log_format(parser.parse_args(["engine", "--log-format", "text"]), json_config) == "text"
    assert _log_format(parser.parse_args(["--log-format", "json", "engine"]), text_config) == "json"
