"""`oee audit list` and `oee audit verify` on a real DuckDB store in tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oee_tui.cli import main
from oee_tui.store import Store

CONFIG = """
[site]
name = "Plant"
timezone = "Europe/Berlin"
"""

T0 = datetime(2026, 11, 26, 7, 0, tzinfo=UTC).timestamp()  # 08:00 in Berlin


@pytest.fixture
def plant(tmp_path: Path) -> list[str]:
    config = tmp_path / "oee.toml"
    config.write_text(CONFIG)
    with Store.open(tmp_path / "data") as store:
        store.append_audit(user="anna (line3)", origin="tty /dev/pts/4", kind="stop_reason",
                           subject="L1-FILL@2026-11-26T07:55:00+01:00", before=None, after="FAIL.MECH", ts=T0)
        store.append_audit(user="maint", origin="ssh 10.1.2.3", kind="device", subject="plc1",
                           before={"host": "192.0.2.10"}, after={"host": "192.0.2.11"}, ts=T0 + 60)
        store.append_audit(user="sup", origin="local", kind="import", subject="plan.xlsx", before=None,
                           after={"kind": "schedule", "rows": 12, "sha256": "ab" * 32}, ts=T0 + 120)
    return ["--config", str(config), "--data-dir", str(tmp_path / "data"), "audit"]


def _tamper(tmp_path: Path, sql: str) -> None:
    with Store.open(tmp_path / "data") as store:
        cur = store.cursor()
        cur.execute(sql)
        cur.close()


def test_list_newest_first_in_plant_local_time(plant: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*plant, "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "seq  time                 user          origin          kind         subject                            "
        "before                 after",
        "3    2026-11-26 08:02:00  sup           local           import       plan.xlsx                          "
        "-                      {\"kind\":\"schedule\",\"rows\":12,…",
        "2    2026-11-26 08:01:00  maint         ssh 10.1.2.3    device       plc1                               "
        "{\"host\":\"192.0.2.10\"}  {\"host\":\"192.0.2.11\"}",
        "1    2026-11-26 08:00:00  anna (line3)  tty /dev/pts/4  stop_reason  L1-FILL@2026-11-26T07:55:00+01:00  "
        "-                      \"FAIL.MECH\"",
    ]


def test_filters_and_json_with_the_head(plant: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*plant, "list", "--user", "line3", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    [entry] = listed["entries"]
    assert {key: entry[key] for key in ("seq", "ts", "user", "origin", "kind", "before", "after")} == {
        "seq": 1, "ts": "2026-11-26T07:00:00+00:00", "user": "anna (line3)", "origin": "tty /dev/pts/4",
        "kind": "stop_reason", "before": None, "after": "FAIL.MECH"}
    assert listed["head"]["entries"] == 3 and len(listed["head"]["hash"]) == 64
    assert listed["head"]["expect"] == f"3:{listed['head']['hash']}"
    assert main([*plant, "list", "--kind", "device", "--from", "2026-11-26T08:00:30", "--to",
                 "2026-11-26T08:01:30", "--format", "json"]) == 0
    assert [entry["seq"] for entry in json.loads(capsys.readouterr().out)["entries"]] == [2]
    assert main([*plant, "list", "--limit", "2", "--format", "json"]) == 0
    assert [entry["seq"] for entry in json.loads(capsys.readouterr().out)["entries"]] == [3, 2]
    assert main([*plant, "list", "--kind", "target"]) == 0
    assert capsys.readouterr().out == "no audit entries (of kind target)\n"


def test_a_bad_time_is_refused_naming_the_option(plant: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*plant, "list", "--to", "yesterday"]) == 2
    assert capsys.readouterr().err.startswith("oee audit list: --to 'yesterday': give a duration such as 30m")


def test_verify_an_intact_trail(plant: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*plant, "list", "--format", "json"]) == 0
    head = json.loads(capsys.readouterr().out)["head"]
    assert main([*plant, "verify"]) == 0
    assert capsys.readouterr().out == f"audit trail intact: 3 entries; head 3:{head['hash']}\n"
    assert main([*plant, "verify", "--expect", head["expect"]]) == 0


def test_verify_names_each_problem_on_stderr_and_exits_1(tmp_path: Path, plant: list[str],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    _tamper(tmp_path, "UPDATE audit_log SET after = '\"SETUP\"' WHERE seq = 1")
    _tamper(tmp_path, "DELETE FROM audit_log WHERE seq = 3")
    assert main([*plant, "verify"]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.splitlines() == [
        "oee audit verify: seq 1: edited (its fields do not match its hash)",
        "oee audit verify: seq 3: removed (seq 3 missing after seq 2, the last; the head counts 3 entries)",
        "oee audit verify: 2 problems in 2 entries; the first: seq 1: edited (its fields do not match its hash)",
    ]


def test_verify_against_a_head_kept_off_the_box(tmp_path: Path, plant: list[str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*plant, "verify"]) == 0
    kept = capsys.readouterr().out.split("head ")[1].strip()
    # Someone with the file rebuilds the trail from scratch: sound in itself, but not the one kept.
    with Store.open(tmp_path / "data") as store:
        cur = store.cursor()
        cur.execute("DELETE FROM audit_log")
        cur.execute("DELETE FROM audit_head")
        cur.close()
        for number in range(3):
            store.append_audit(user="x", origin="local", kind="config", subject=str(number), before=None, after=None)
    assert main([*plant, "verify"]) == 0
    capsys.readouterr()
    assert main([*plant, "verify", "--expect", kept]) == 1
    assert "chain broken (the head kept off the box, seq 3 with hash" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad:
        main([*plant, "verify", "--expect", "3:xyz"])
    assert bad.value.code == 2
    assert "give SEQ:HASH as `oee audit verify` prints it" in capsys.readouterr().err


def test_no_store_yet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--config", str(tmp_path / "none.toml"), "--data-dir", str(tmp_path / "empty"), "audit"]
    assert main([*args, "verify"]) == 0
    assert capsys.readouterr().out == f"no audit trail yet: there is no store in {tmp_path / 'empty'}\n"
    assert main([*args, "list"]) == 0
    assert capsys.readouterr().out == "no audit entries\n"
    assert main([*args, "verify", "--expect", "3:" + "a" * 64]) == 1
    assert capsys.readouterr().err == (f"oee audit verify: there is no store in {tmp_path / 'empty'}, so the head "
                                       f"kept off the box (3:{'a' * 64}) is not in it\n")
    assert not (tmp_path / "empty").exists()


def test_a_store_in_use_exits_3(tmp_path: Path, plant: list[str]) -> None:
    # Another process holds the store (the lock is per process): the command says so and exits 3.
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys; from pathlib import Path; from oee_tui.store import Store; "
        f"store = Store.open(Path({str(tmp_path / 'data')!r})); print('open', flush=True); sys.stdin.read()")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        done = subprocess.run([sys.executable, "-m", "oee_tui", *plant, "verify"], capture_output=True, text=True,
                              check=False)
        assert done.returncode == 3, done.stderr
        assert "in use by process" in done.stderr
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


IMPORT_CONFIG = CONFIG + """
[[lines]]
id = "L1"

[[machines]]
id = "M1"
line = "L1"
ideal_cycle_time_s = 1.0

[[machines]]
id = "M2"
line = "L1"
ideal_cycle_time_s = 1.0
"""


def test_an_import_that_changes_the_store_is_audited_with_the_ssh_client(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass
    import hashlib

    config = tmp_path / "oee.toml"
    config.write_text(IMPORT_CONFIG)
    products = tmp_path / "products.csv"
    products.write_text("Product,Machine,Cycle time (s)\nA,,1.5\nA,M2,0.5\nC,,3\n")
    args = ["--config", str(config), "--data-dir", str(tmp_path / "data")]
    monkeypatch.setenv("SSH_CONNECTION", "10.9.8.7 50123 10.9.8.1 22")
    assert main([*args, "import", "products", str(products), "--dry-run"]) == 0
    assert main([*args, "import", "products", str(products)]) == 0
    assert main([*args, "import", "products", str(products)]) == 0  # nothing changed: nothing to audit
    capsys.readouterr()
    assert main([*args, "audit", "list", "--format", "json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)["entries"]
    assert {key: entry[key] for key in ("user", "origin", "kind", "subject", "before", "after")} == {
        "user": getpass.getuser(), "origin": "ssh 10.9.8.7", "kind": "import", "subject": "products.csv",
        "before": None, "after": {"kind": "products", "file": str(products), "sheet": None, "rows": 3,
                                  "sha256": hashlib.sha256(products.read_bytes()).hexdigest(),
                                  "inserted": 3, "updated": 0, "removed": 0}}
    assert main([*args, "audit", "verify"]) == 0
