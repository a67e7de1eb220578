"""`oee deadletters` on a real DuckDB store in tmp_path: table, JSON, filters, --raw, and bad arguments."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oee_tui.cli import main
from oee_tui.model import DeadLetter
from oee_tui.store import Store

CONFIG = """
[site]
name = "Plant"
timezone = "Europe/Berlin"

[[sources]]
name = "uns"
kind = "mqtt"
"""

T0 = datetime(2026, 11, 26, 7, 0, tzinfo=UTC).timestamp()  # 08:00 in Berlin
LETTERS = [
    DeadLetter(T0, "uns", "plant/a/counts", b'{"count": "x"}', "total_count needs a number, got a string 'x'"),
    DeadLetter(T0 + 60, "uns", "plant/a/state", b"\x00\x01\x02\xff", "payload is not UTF-8 text (byte 3: 0xff)"),
    DeadLetter(T0 + 120, "spb", "spBv1.0/G/DDATA/E/D", b"\x08" * 100,
               "cannot decode the Sparkplug payload: " + "a very long reason " * 5),
]


@pytest.fixture
def plant(tmp_path: Path) -> list[str]:
    config = tmp_path / "oee.toml"
    config.write_text(CONFIG)
    with Store.open(tmp_path / "data") as store:
        store.write_dead_letters(LETTERS)
    return ["--config", str(config), "--data-dir", str(tmp_path / "data"), "deadletters"]


def test_table_newest_first_in_plant_local_time(plant: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(plant) == 0
    assert capsys.readouterr().out.splitlines() == [
        "#  received             source  topic                bytes  error                                         "
        "                preview",
        "1  2026-11-26 08:02:00  spb     spBv1.0/G/DDATA/E/D  100    cannot decode the Sparkplug payload: a very lo"
        "ng reason a v…  hex: 08 08 08 08 08 08 08 08 08 08 08…",
        "2  2026-11-26 08:01:00  uns     plant/a/state        4      payload is not UTF-8 text (byte 3: 0xff)      "
        "                hex: 00 01 02 ff",
        "3  2026-11-26 08:00:00  uns     plant/a/counts       14     total_count needs a number, got a string 'x'  "
        "                {\"count\": \"x\"}",
    ]


def test_filters_and_json(plant: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*plant, "--source", "uns", "--since", "2026-11-26T08:00:30", "--format", "json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry == {"received_at": "2026-11-26T08:01:00+01:00", "source": "uns", "topic": "plant/a/state",
                     "error": "payload is not UTF-8 text (byte 3: 0xff)", "size": 4, "preview": "hex: 00 01 02 ff",
                     "payload_text": None, "payload_base64": "AAEC/w=="}
    assert main([*plant, "--limit", "1", "--format", "json"]) == 0
    assert [entry["source"] for entry in json.loads(capsys.readouterr().out)] == ["spb"]


def test_raw_writes_exactly_the_payload_bytes(plant: list[str], capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main([*plant, "--raw", "2"]) == 0
    assert capfdbinary.readouterr().out == b"\x00\x01\x02\xff"
    assert main([*plant, "--raw"]) == 0
    assert capfdbinary.readouterr().out == b"\x08" * 100
    assert main([*plant, "--source", "uns", "--raw", "3"]) == 1
    assert capfdbinary.readouterr().err == (b"oee deadletters: --raw 3: there are only 2 dead letters "
                                            b"(from source uns)\n")


def test_nothing_to_show(plant: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*plant, "--since", "2h"]) == 0  # the letters are from 2026-11-26 08:00; "now" is later
    out = capsys.readouterr()
    assert out.out == "no dead letters (since 2h)\n"


def test_unknown_source_is_said_but_not_refused(plant: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*plant, "--source", "gone"]) == 0
    out = capsys.readouterr()
    assert out.out == "no dead letters (from source gone)\n"
    assert out.err == "oee deadletters: note: no source named 'gone' in the config (sources: uns)\n"


def test_bad_since_and_limit(plant: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*plant, "--since", "last tuesday"]) == 2
    assert capsys.readouterr().err == (
        "oee deadletters: --since 'last tuesday': give a duration such as 30m, 2h or 1d, or an ISO date/time such as "
        "2026-11-27 or 2026-11-27T06:00 (plant local unless it has an offset)\n")
    with pytest.raises(SystemExit) as exited:
        main([*plant, "--limit", "0"])
    assert exited.value.code == 2
    assert "argument --limit: 0 must be at least 1" in capsys.readouterr().err


def test_no_store_yet_is_not_an_error_and_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "oee.toml"
    config.write_text(CONFIG)
    assert main(["--config", str(config), "--data-dir", str(tmp_path / "empty"), "deadletters"]) == 0
    assert capsys.readouterr().out == "no dead letters\n"
    assert not (tmp_path / "empty").exists()


def test_a_running_engine_holds_the_store(plant: list[str], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with Store.open(tmp_path / "data"):
        assert main(plant) == 3
    assert "oee:" in capsys.readouterr().err
