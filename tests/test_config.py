"""Config loading: a good file parses into typed values; a bad one names file, key, value and fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from oee_tui.cli import SAMPLE_CONFIG
from oee_tui.config import ConfigError, ConfigProblems
from oee_tui.drivers.registry import load_config, parse_config
from oee_tui.model import Loss, Signal


def test_sample_config_parses_into_typed_values(tmp_path: Path) -> None:
    path = tmp_path / "oee.toml"
    path.write_text(SAMPLE_CONFIG)
    config = load_config(path)
    assert config.site.timezone == "Europe/Berlin"
    filler = config.machine("L1-FILL")
    assert filler.ideal_cycle_time_s == 0.5
    assert filler.signals[Signal.TOTAL_COUNT].width == 32
    assert filler.signals[Signal.REJECT_COUNT].width == 16
    assert filler.signals[Signal.STATE_CODE].type == "uint16"
    assert filler.state_map[3] == "down"
    assert config.shifts[2].name == "Night" and config.shifts[2].end == "06:00"
    mech = config.reason("FAIL.MECH")
    assert mech is not None and mech.loss is Loss.BREAKDOWN and mech.parent == "FAIL"  # inherited
    assert config.reason("BREAK").planned  # type: ignore[union-attr]


def _replace(old: str, new: str) -> str:
    assert old in SAMPLE_CONFIG, old
    return SAMPLE_CONFIG.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        (_replace('timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"'), "site.timezone", "IANA"),
        (_replace('line = "L1"', 'line = "L9"'), "machines[L1-FILL].line", "L1"),
        (_replace('tag = "hr:0"', 'tag = "hr:99999"'), "machines[L1-FILL].signals.total_count.tag", "hr:N"),
        (_replace('width = 16', 'width = 12'), "machines[L1-FILL].signals.reject_count.width", "16, 32 or 64"),
        (_replace('"3" = "down"', '"3" = "broken"'), "state_map.3", "running"),
        (_replace('ideal_cycle_time_s = 0.5', 'ideal_cycle_time_s = -1'),
         "machines[L1-FILL].ideal_cycle_time_s", "greater than 0"),
        (_replace('kind = "modbus"', 'kind = "profibus"'), "sources[plc1].kind", "modbus, opcua"),
        (_replace('start = "06:00"', 'start = "6am"'), "shifts[Early].start", "HH:MM"),
        (_replace('loss = "setup"', 'loss = "slowness"'), "reasons[SETUP].loss", "breakdown"),
        (_replace('[targets]\noee = 0.85', '[targets]\noee = 85'), "targets.oee", "fraction"),
        (_replace('poll_interval_s = 1.0', 'poll_interval_s = 1.0\npoll_rate = 3'),
         "sources[plc1].poll_rate", "known keys"),
        (_replace('source = "plc1", tag = "hr:3"', 'source = "plc7", tag = "hr:3"'),
         "machines[L1-FILL].signals.state_code.source", "plc1"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 60 else None,
)
def test_bad_value_names_key_value_and_fix(text: str, key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "/etc/oee/oee.toml")
    error = caught.value
    assert error.key == key
    assert error.file == "/etc/oee/oee.toml"
    assert hint in error.expected
    assert str(error).startswith(f"/etc/oee/oee.toml: {key} = ")


def test_toml_syntax_error_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("[site\nname = 1", "plant.toml")
    assert caught.value.key == "(syntax)"
    assert "line 1" in caught.value.expected


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="oee config init"):
        load_config(tmp_path / "nope.toml")


def test_cli_reports_bad_config_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "oee.toml"
    path.write_text(_replace("ideal_cycle_time_s = 0.5", 'ideal_cycle_time_s = "fast"'))
    done = subprocess.run([sys.executable, "-m", "oee_tui", "--config", str(path), "config", "check"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{path}: machines[L1-FILL].ideal_cycle_time_s = 'fast': must be a number" in done.stderr


@pytest.mark.parametrize(
    ("old", "new", "key", "why"),
    [
        # Late starts an hour before Early ends, on every day.
        ('name = "Late"\nstart = "14:00"', 'name = "Late"\nstart = "13:00"', "shifts[Late].start = '13:00'",
         "overlaps shift Early (06:00-14:00) on mon"),
        # Night runs past 06:00 into the next day's Early: found on the day Early starts.
        ('name = "Night"\nstart = "22:00"\nend = "06:00"', 'name = "Night"\nstart = "22:00"\nend = "06:30"',
         "shifts[Early].start = '06:00'", "overlaps shift Night (22:00-06:30) on tue"),
    ],
    ids=["same day", "across midnight"],
)
def test_overlapping_shifts_are_refused_in_the_words_of_the_shifts_import(old: str, new: str, key: str,
                                                                         why: str) -> None:
    """Issue 13 item 10: the shifts import refused overlaps that the config accepted."""
    with pytest.raises(ConfigError) as caught:
        parse_config(_replace(old, new), "/etc/oee/oee.toml")
    assert str(caught.value) == f"/etc/oee/oee.toml: {key}: {why}"


def test_shifts_on_other_days_and_shifts_that_touch_do_not_overlap() -> None:
    three_shifts = SAMPLE_CONFIG[SAMPLE_CONFIG.index("[[shifts]]"):SAMPLE_CONFIG.index("[[reasons]]")]
    week = """
[[shifts]]
name = "Early"
start = "06:00"
end = "14:00"
days = ["mon", "tue", "wed", "thu", "fri"]
[[shifts]]
name = "Night"
start = "22:00"
end = "06:00"
days = ["sun", "mon", "tue", "wed", "thu"]
[[shifts]]
name = "Weekend"
start = "06:00"
end = "18:00"
days = ["sat", "sun"]
"""
    config = parse_config(SAMPLE_CONFIG.replace(three_shifts, week), "oee.toml")
    assert [shift.name for shift in config.shifts] == ["Early", "Night", "Weekend"]


def test_cli_config_check_refuses_overlapping_shifts(tmp_path: Path) -> None:
    path = tmp_path / "oee.toml"
    path.write_text(_replace('name = "Late"\nstart = "14:00"', 'name = "Late"\nstart = "13:00"'))
    done = subprocess.run([sys.executable, "-m", "oee_tui", "--config", str(path), "config", "check"],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    why = "overlaps shift Early (06:00-14:00) on mon"
    assert done.stderr.strip().endswith(f"{path}: shifts[Late].start = '13:00': {why}")


def test_cli_config_init_then_check(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "oee.toml"
    run = [sys.executable, "-m", "oee_tui", "--config", str(path), "config"]
    assert subprocess.run([*run, "init"], capture_output=True, timeout=60).returncode == 0
    again = subprocess.run([*run, "init"], capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "--force" in again.stderr
    check = subprocess.run([*run, "check"], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert "1 machines" in check.stdout


S7_SOURCE = '\n[[sources]]\nname = "s7"\nkind = "s7"\nhost = "192.0.2.40"\n'


def _with_s7_tag(tag: str, source_extra: str = "") -> str:
    return _replace('reject_count = { source = "plc1", tag = "hr:2", type = "uint16", width = 16 }',
                    f'reject_count = {{ source = "s7", tag = "{tag}" }}') + S7_SOURCE + source_extra


def test_s7_logix_and_opcua_sources_parse_with_their_own_settings() -> None:
    text = _with_s7_tag("DB3.DBD4:DINT", 'rack = 0\nslot = 2\n') + (
        '\n[[sources]]\nname = "clx"\nkind = "logix"\nhost = "192.0.2.50"\nslot = 3\n'
        '\n[[sources]]\nname = "ua"\nkind = "opcua"\nendpoint = "opc.tcp://192.0.2.60:4840/"\n'
        'security_mode = "SignAndEncrypt"\nusername = "oee"\npassword = "secret"\n')
    config = parse_config(text, "plant.toml")
    s7, clx, ua = config.sources[1:]
    assert (s7.port, s7.rack, s7.slot) == (102, 0, 2)
    assert (clx.port, clx.slot) == (44818, 3)
    assert (ua.security_mode, ua.security_policy, ua.username) == ("SignAndEncrypt", "Basic256Sha256", "oee")
    assert "secret" not in repr(ua)  # passwords never reach a log through a repr
    reject = config.machine("L1-FILL").signals[Signal.REJECT_COUNT]
    assert (reject.type, reject.width) == ("dint", 32)


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        (_with_s7_tag("DB1.DBW"), "machines[L1-FILL].signals.reject_count.tag", "byte offset is missing"),
        (_with_s7_tag("DB1.DBW2:REAL"), "machines[L1-FILL].signals.reject_count.tag", "REAL"),
        (_with_s7_tag("DB1.DBW2", 'local_tsap = "01.00"\n'), "sources[s7].remote_tsap", "both"),
        (_with_s7_tag("DB1.DBW2", 'local_tsap = "0100"\nremote_tsap = "03.01"\n'), "sources[s7].local_tsap",
         "01.00"),
        (_with_s7_tag("DB1.DBW2", 'endpoint = "opc.tcp://x/"\n'), "sources[s7].endpoint", "known keys"),
        (_replace('tag = "hr:3"', 'tag = "Filler.State"').replace('kind = "modbus"', 'kind = "opcua"\n'
                  'endpoint = "opc.tcp://192.0.2.20:4840/"').replace('port = 502\nunit_id = 1\n', ''),
         "machines[L1-FILL].signals.total_count.tag", "ns=2;s=Filler.Count"),  # hr:0 is no node id
    ],
    ids=["s7-offset-missing", "s7-type-too-big", "s7-one-tsap", "s7-tsap-format", "s7-opcua-key", "opcua-node-id"],
)
def test_bad_device_settings_name_key_value_and_fix(text: str, key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "plant.toml")
    assert caught.value.key == key
    assert hint in caught.value.expected


def test_config_check_reports_every_problem_in_one_run(tmp_path: Path) -> None:
    """Issue 14 item 19: one run lists every problem, in the file's order, not only the first."""
    text = _replace('timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"')
    text = text.replace('kind = "modbus"', 'kind = "profibus"', 1)  # plc1: its machines' signals are not blamed
    text = text.replace('ideal_cycle_time_s = 0.5', 'ideal_cycle_time_s = -1', 1)
    text = text.replace('start = "06:00"', 'start = "6am"', 1)
    path = tmp_path / "oee.toml"
    path.write_text(text)
    with pytest.raises(ConfigProblems) as caught:
        load_config(path)
    assert [problem.key for problem in caught.value.problems] == [
        "site.timezone", "sources[plc1].kind", "machines[L1-FILL].ideal_cycle_time_s", "shifts[Early].start"]
    done = subprocess.run([sys.executable, "-m", "oee_tui", "--config", str(path), "config", "check"],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"oee: config error: 4 problems in {path}:",
        "  site.timezone = 'Mars/Olympus': must be an IANA time zone such as Europe/Berlin",
        f"  sources[plc1].kind = 'profibus': {caught.value.problems[1].expected}",
        "  machines[L1-FILL].ideal_cycle_time_s = -1: must be greater than 0",
        "  shifts[Early].start = '6am': must be a local time HH:MM, e.g. 06:00",
    ]


def test_one_problem_reads_as_before_and_is_the_error_a_form_marks() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_replace('line = "L1"', 'line = "L9"'), "/etc/oee/oee.toml")
    assert caught.value.key == "machines[L1-FILL].line"
    assert str(caught.value) == ("/etc/oee/oee.toml: machines[L1-FILL].line = 'L9': "
                                 "must be the id of a [[lines]] entry: L1")


@pytest.mark.parametrize("command", [["config", "check"], ["report"]])
def test_a_missing_config_is_named_in_plain_words(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "nope.toml"
    done = subprocess.run([sys.executable, "-m", "oee_tui", "--config", str(path), "--data-dir", str(tmp_path),
                           *command], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith(f"oee: config error: config file {path} does not exist; run `oee config init`")
    assert "(file)" not in done.stderr and "None" not in done.stderr


def test_an_unreadable_config_is_named_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "oee.toml"
    path.write_bytes(b"[site]\nname = \"\xff\xfe\"\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"config file {path} is not UTF-8 text"
    folder = tmp_path / "a-folder.toml"
    folder.mkdir()
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    assert str(caught.value) == f"config file {folder} cannot be read: Is a directory"
