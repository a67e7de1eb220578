"""`oee export` as a user runs it: every kind in every allowed format, read back and compared, its filters,
refusals with their exact words and exit codes, an empty result, a locked store and --demo."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest

from oee_tui.cli import main
from oee_tui.engine.analysis.report import build_report
from oee_tui.exports.oee_rows import HEADERS as OEE_HEADERS
from oee_tui.model import MachineState, OeeResult, Span, StateInterval
from oee_tui.store import Store
from tests.exports.plant_data import CONFIG, CONFIG_TOML, INTERVALS, SAMPLES, at, fill

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def plant(tmp_path: Path) -> tuple[Path, Path]:
    """(config file, data dir) of a plant whose store holds the known rows."""
    config_path = tmp_path / "oee.toml"
    config_path.write_text(CONFIG_TOML, encoding="utf-8")
    fill(tmp_path / "data")
    return config_path, tmp_path / "data"


def oee(plant: tuple[Path, Path], *args: str) -> int:
    config_path, data_dir = plant
    return main(["--config", str(config_path), "--data-dir", str(data_dir), "export", *args])


def parquet_rows(path: Path) -> list[dict[str, Any]]:
    return pq.read_table(path).to_pylist()


def xlsx_rows(path: Path) -> list[dict[str, Any]]:
    """The sheet's rows by the CSV's column names: durations back in seconds, as a user's formula would do."""
    header, *values = openpyxl.load_workbook(path).worksheets[0].iter_rows(values_only=True)
    names = [str(name).replace(" (h:mm:ss)", "_s") for name in header]
    return [{name: value.total_seconds() if isinstance(value, timedelta) else value
             for name, value in zip(names, row, strict=True)} for row in values]


def csv_rows(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------- bulk kinds

@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_samples_in_each_format(plant: tuple[Path, Path], tmp_path: Path, capsys: Capsys, suffix: str) -> None:
    out = tmp_path / f"samples.{suffix}"
    assert oee(plant, "samples", "--out", str(out)) == 0
    assert capsys.readouterr().out.startswith(f"wrote 7 rows of samples to {out} ({suffix}, ")
    rows = parquet_rows(out) if suffix == "parquet" else csv_rows(out)
    got = [(r["source"], r["tag"], r["quality"]) for r in rows]
    assert sorted(got) == sorted((source, tag, quality) for _, source, tag, _, _, quality in SAMPLES)


def test_samples_of_a_line_in_a_local_time_range(plant: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "l1.csv"
    # plant local times; --from inclusive, --to exclusive; L1 is A (hr:0, hr:1) and B (hr:10)
    assert oee(plant, "samples", "--out", str(out), "--line", "L1", "--from", "2026-11-24T06:00:01",
               "--to", "2026-11-24T06:00:04", "-q") == 0
    assert [(r["ts_utc"], r["tag"]) for r in csv_rows(out)] == [
        ("2026-11-24 05:00:01", "hr:1"), ("2026-11-24 05:00:01.5", "hr:10")]


def rows_of(path: Path) -> list[dict[str, Any]]:
    return {".parquet": parquet_rows, ".xlsx": xlsx_rows}.get(path.suffix, csv_rows)(path)  # type: ignore[operator]


@pytest.mark.parametrize("suffix", ["csv", "parquet", "xlsx"])
def test_intervals_in_each_format(plant: tuple[Path, Path], tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"intervals.{suffix}"
    assert oee(plant, "intervals", "--out", str(out), "--machine", "B", "-q") == 0
    rows = rows_of(out)
    assert [(r["machine"], r["line"], r["state"]) for r in rows] == [
        (i.machine, "L1", i.state.value) for i in INTERVALS if i.machine == "B"]
    if suffix == "parquet":
        assert rows[0]["start_utc"] == datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
        assert rows[-1]["end_utc"] is None  # B's last stop is still open
    elif suffix == "xlsx":
        assert rows[0]["start_utc"] == datetime(2026, 11, 24, 5, 0)  # a date cell, UTC as the name says
        assert rows[-1]["end_utc"] is None
        assert all(isinstance(row["duration_s"], float) for row in rows)
    else:
        assert rows[0]["start_utc"] == "2026-11-24 05:00:00"
        assert rows[-1]["end_utc"] == ""


@pytest.mark.parametrize("suffix", ["csv", "parquet", "xlsx"])
def test_stops_of_the_late_shift_in_each_format(plant: tuple[Path, Path], tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"stops.{suffix}"
    # Late@2026-11-24 is 14:00-22:00 local: C's 14:00 stop and B's stop still open since 09:10
    assert oee(plant, "stops", "--out", str(out), "--shift", "Late@2026-11-24", "-q") == 0
    rows = rows_of(out)
    assert [(r["machine"], r["class"], r["reason"] or None) for r in rows] == [
        ("B", "breakdown", "LUNCH"), ("C", "breakdown", None)]


def test_stops_take_imported_reasons_as_the_report_does(plant: tuple[Path, Path], tmp_path: Path) -> None:
    store = Store.open(plant[1])
    cursor = store.cursor()
    # as `oee import reasons` leaves it: LUNCH, unknown to the config file, is planned
    cursor.execute("INSERT INTO reasons VALUES ('LUNCH', 'Lunch break', NULL, true, NULL)")
    cursor.close()
    store.close()
    out = tmp_path / "stops.csv"
    assert oee(plant, "stops", "--out", str(out), "--machine", "B", "--from", "2026-11-24T09:10", "-q") == 0
    assert [(r["start_utc"], r["class"], r["reason"], r["reason_name"]) for r in csv_rows(out)] == [
        ("2026-11-24 08:10:00", "planned", "LUNCH", "Lunch break")]


# ---------------------------------------------------------------- OEE results

def flatten(period: str, level: str, line: str, result: OeeResult) -> dict[str, Any]:
    data = result.to_dict()
    losses = data.pop("losses")
    data.update(losses)
    data["flags"] = ";".join(data["flags"])
    data["window_start_utc"] = datetime.fromtimestamp(data.pop("window_start"), UTC).replace(tzinfo=None)
    data["window_end_utc"] = datetime.fromtimestamp(data.pop("window_end"), UTC).replace(tzinfo=None)
    data.update(period=period, level=level, line=line)
    return {name: data[name] for name in OEE_HEADERS}


def calculator_rows(data_dir: Path, periods: list[tuple[str, float, float]], machines: set[str] | None = None,
                    lines: set[str] | None = None) -> list[dict[str, Any]]:
    now = datetime.now(UTC).timestamp()
    line_of = {m.id: m.line for m in CONFIG.machines}
    out = []
    store = Store.open(data_dir)
    try:
        for label, start, end in periods:
            report = build_report(store, CONFIG, Span(start, end), now, label)
            out += [flatten(label, "machine", line_of[r.scope], r) for r in report.machines
                    if machines is None or r.scope in machines]
            out += [flatten(label, "line", r.scope, r) for r in report.lines if lines is None or r.scope in lines]
            if machines is None and report.plant is not None:
                out.append(flatten(label, "plant", "", report.plant))
    finally:
        store.close()
    return out


EARLY = ("Early@2026-11-24", at("06:00"), at("14:00"))
LATE = ("Late@2026-11-24", at("14:00"), at("22:00"))


def test_oee_per_shift_to_parquet_has_every_figure(plant: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "oee.parquet"
    assert oee(plant, "oee", "--out", str(out), "--from", "2026-11-24T06:00", "--to", "2026-11-24T22:00",
               "-q") == 0
    rows = parquet_rows(out)
    assert list(rows[0]) == list(OEE_HEADERS)
    for row in rows:
        row["window_start_utc"] = row["window_start_utc"].replace(tzinfo=None)
        row["window_end_utc"] = row["window_end_utc"].replace(tzinfo=None)
    assert rows == calculator_rows(plant[1], [EARLY, LATE])
    # by hand: A's 08:00-08:20 failure, and its 20-minute changeover plus a 5-minute stop given SETUP
    a_early = rows[0]
    assert (a_early["period"], a_early["scope"], a_early["breakdown_s"], a_early["setup_s"]) == (
        "Early@2026-11-24", "A", 1200.0, 1500.0)
    assert [(r["period"], r["level"], r["scope"]) for r in rows] == [
        (period, level, scope) for period in ("Early@2026-11-24", "Late@2026-11-24")
        for level, scope in (("machine", "A"), ("machine", "B"), ("machine", "C"), ("line", "L1"), ("line", "L2"),
                             ("plant", "plant"))]


def test_oee_for_the_whole_window_of_one_line_to_xlsx(plant: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "oee.xlsx"
    assert oee(plant, "oee", "--out", str(out), "--from", "2026-11-24T06:00", "--to", "2026-11-24T22:00",
               "--per", "window", "--line", "L1", "-q") == 0
    assert openpyxl.load_workbook(out).sheetnames == ["oee"]
    got = xlsx_rows(out)
    assert list(got[0]) == list(OEE_HEADERS)
    for row in got:
        row["flags"] = row["flags"] or ""  # an empty cell reads back as None
    want = calculator_rows(plant[1], [("2026-11-24T06:00 to 2026-11-24T22:00", at("06:00"), at("22:00"))],
                           machines={"A", "B"}, lines={"L1"})
    # Excel keeps 15 significant digits of a number, so the ratios come back a last digit apart; durations are
    # days in the sheet, read back to the microsecond
    assert [{k: pytest.approx(v, rel=1e-14, abs=1e-6 if k.endswith("_s") else 0) if isinstance(v, float) else v
             for k, v in row.items()}
            for row in want] == got
    assert [(r["level"], r["scope"]) for r in got] == [("machine", "A"), ("machine", "B"), ("line", "L1")]


def test_oee_of_a_shift_for_one_machine_to_csv(plant: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "oee.csv"
    assert oee(plant, "oee", "--out", str(out), "--shift", "Early@2026-11-24", "--machine", "C", "-q") == 0
    rows = csv_rows(out, encoding="utf-8-sig")
    [want] = calculator_rows(plant[1], [EARLY], machines={"C"}, lines=set())
    assert len(rows) == 1
    assert rows[0]["window_start_utc"] == "2026-11-24 05:00:00"
    for name in OEE_HEADERS:
        value = want[name]
        if isinstance(value, float):
            assert float(rows[0][name]) == value, name
        elif value is None:
            assert rows[0][name] == "", name
        elif not isinstance(value, datetime):
            assert rows[0][name] == str(value), name


def test_imported_shifts_replace_the_configs_so_the_shifts_add_up_to_the_day(plant: tuple[Path, Path],
                                                                             tmp_path: Path) -> None:
    """Issue 13 item 10: imported Früh and Spät were added beside the config's Early and Late, and
    the per-shift export counted every part twice (121,000 parts where the day made 60,500)."""
    config_path, data_dir = plant
    shifts = tmp_path / "shifts.csv"
    shifts.write_text("Shift,Start,End,Days\nFrüh,06:00,14:00,daily\nSpät,14:00,22:00,daily\n", encoding="utf-8")
    assert main(["--config", str(config_path), "--data-dir", str(data_dir), "import", "shifts", str(shifts)]) == 0
    per_shift, whole_day = tmp_path / "shifts.csv.out.csv", tmp_path / "day.csv"
    day = ("--from", "2026-11-24", "--to", "2026-11-25", "-q")
    assert oee(plant, "oee", "--out", str(per_shift), *day) == 0
    assert oee(plant, "oee", "--out", str(whole_day), "--per", "window", *day) == 0
    plant_rows = [row for row in csv_rows(per_shift, encoding="utf-8-sig") if row["level"] == "plant"]
    assert [row["period"] for row in plant_rows] == ["Früh@2026-11-24", "Spät@2026-11-24"]
    [day_row] = [row for row in csv_rows(whole_day, encoding="utf-8-sig") if row["level"] == "plant"]
    assert sum(int(row["total_count"]) for row in plant_rows) == int(day_row["total_count"]) == 60_500
    assert sum(float(row["scheduled_time_s"]) for row in plant_rows) == float(day_row["scheduled_time_s"])


def test_stored_shift_patterns_edited_into_an_overlap_are_refused_by_report_and_export(
        plant: tuple[Path, Path], tmp_path: Path, capsys: Capsys) -> None:
    """The import refuses overlapping shifts; a hand edit of the table is refused on use, with no traceback."""
    config_path, data_dir = plant
    store = Store.open(data_dir)
    cursor = store.cursor()
    cursor.execute("INSERT INTO shift_patterns VALUES ('Früh', '06:00', '14:00', '', '[]'), "
                   "('Spät', '13:00', '22:00', '', '[]')")
    cursor.close()
    store.close()
    why = ("shift_patterns table, shift 'Spät': start '13:00' overlaps shift Früh (06:00-14:00) on mon; "
           "import a shifts file to replace the stored patterns")
    day = ("--from", "2026-11-24", "--to", "2026-11-25")
    report = ["--config", str(config_path), "--data-dir", str(data_dir), "report", *day]
    assert main(report) == 2
    assert capsys.readouterr().err == f"oee report: {why}\n"
    assert oee(plant, "oee", "--out", str(tmp_path / "day.csv"), *day) == 2
    assert capsys.readouterr().err == f"oee export oee: {why}\n"
    assert not (tmp_path / "day.csv").exists()


# ---------------------------------------------------------------- refusals and edges

def test_xlsx_of_more_rows_than_a_sheet_holds_is_refused_with_the_count(plant: tuple[Path, Path], tmp_path: Path,
                                                                       capsys: Capsys) -> None:
    store = Store.open(plant[1])
    cursor = store.cursor()
    cursor.execute("INSERT INTO samples (ts, source, tag, value_num, value_text, quality) "
                   "SELECT TIMESTAMP '2026-11-25 00:00:00' + to_microseconds(i), 'plc1', 'hr:0', i, NULL, 'good' "
                   "FROM range(1048576) t(i)")
    cursor.close()
    store.close()
    out = tmp_path / "x.xlsx"
    assert oee(plant, "samples", "--out", str(out)) == 2
    assert capsys.readouterr().err == (
        f"oee export samples: {out}: 1,048,583 samples rows do not fit in one XLSX sheet (at most 1,048,575 under "
        "the header); narrow --shift/--from/--to, --line or --machine, or write .csv or .parquet\n")
    assert list(tmp_path.glob("*.xlsx")) == [] and list(tmp_path.glob(".x.xlsx*")) == []


def test_unknown_lines_and_machines_are_named_with_the_valid_ones(plant: tuple[Path, Path], tmp_path: Path,
                                                                  capsys: Capsys) -> None:
    assert oee(plant, "samples", "--out", str(tmp_path / "x.csv"), "--line", "L1", "L9") == 2
    assert capsys.readouterr().err == "oee export samples: --line 'L9': no such line; lines are L1, L2\n"
    assert oee(plant, "oee", "--out", str(tmp_path / "x.csv"), "--machine", "Z") == 2
    assert capsys.readouterr().err == "oee export oee: --machine 'Z': no such machine; machines are A, B, C\n"
    assert list(tmp_path.glob("x.*")) == []


def test_bad_ranges_are_refused(plant: tuple[Path, Path], tmp_path: Path, capsys: Capsys) -> None:
    out = str(tmp_path / "x.csv")
    assert oee(plant, "samples", "--out", out, "--from", "2026-11-24T08:00", "--to", "2026-11-24T07:00") == 2
    assert capsys.readouterr().err == ("oee export samples: --to '2026-11-24T07:00' must be after "
                                       "--from '2026-11-24T08:00'\n")
    assert oee(plant, "stops", "--out", out, "--shift", "Early", "--from", "2026-11-24") == 2
    assert capsys.readouterr().err == "oee export stops: give either --shift or --from/--to, not both\n"
    assert oee(plant, "oee", "--out", out, "--from", "2026-11-24") == 2
    assert capsys.readouterr().err == "oee export oee: --from and --to go together\n"
    assert oee(plant, "samples", "--out", out, "--from", "yesterday") == 2
    assert capsys.readouterr().err == ("oee export samples: --from 'yesterday': use an ISO date or time such as "
                                       "2026-11-26 or 2026-11-26T06:00\n")


def test_a_format_the_name_contradicts_or_a_missing_folder_is_refused(plant: tuple[Path, Path], tmp_path: Path,
                                                                      capsys: Capsys) -> None:
    assert oee(plant, "samples", "--out", str(tmp_path / "x.csv"), "--format", "parquet") == 2
    assert capsys.readouterr().err == (f"oee export samples: {tmp_path / 'x.csv'}: the name says csv but --format "
                                       "says parquet; make them agree\n")
    missing = tmp_path / "no" / "x.csv"
    assert oee(plant, "stops", "--out", str(missing)) == 2
    assert capsys.readouterr().err == f"oee export stops: {missing}: folder {missing.parent} does not exist\n"


def test_a_name_without_the_suffix_takes_the_format_option(plant: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "shift-report.dat"
    assert oee(plant, "oee", "--out", str(out), "--format", "xlsx", "--shift", "Early@2026-11-24", "-q") == 0
    with out.open("rb") as handle:  # openpyxl goes by the suffix unless handed a file
        assert openpyxl.load_workbook(handle)["oee"].max_row == 7  # header + 3 machines + 2 lines + plant
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "oee.toml", "shift-report.dat"]


def test_an_empty_result_writes_the_header_and_says_so(plant: tuple[Path, Path], tmp_path: Path,
                                                       capsys: Capsys) -> None:
    out = tmp_path / "samples.csv"
    assert oee(plant, "samples", "--out", str(out), "--from", "2030-01-01", "--machine", "A") == 0
    captured = capsys.readouterr()
    assert captured.err == f"oee export samples: nothing matched the filters; {out} has the header only\n"
    assert captured.out.startswith(f"wrote 0 rows of samples to {out} (csv, ")
    assert out.read_text(encoding="utf-8") == "ts_utc,source,tag,value_num,value_text,quality\n"


def test_quiet_prints_nothing_and_draws_no_bar(plant: tuple[Path, Path], tmp_path: Path, capsys: Capsys) -> None:
    assert oee(plant, "intervals", "--out", str(tmp_path / "i.parquet"), "--quiet") == 0
    assert capsys.readouterr() == ("", "")


def test_an_export_replaces_the_previous_file_whole(plant: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "stops.csv"
    out.write_text("old\n" * 1000, encoding="utf-8")
    assert oee(plant, "stops", "--out", str(out), "--machine", "C", "-q") == 0
    assert len(csv_rows(out)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "oee.toml", "stops.csv"]


@pytest.mark.parametrize("what", ["stops", "oee"])
def test_a_file_that_cannot_be_put_in_place_fails_and_leaves_nothing(plant: tuple[Path, Path], tmp_path: Path,
                                                                      capsys: Capsys, what: str) -> None:
    out = tmp_path / "taken.csv"
    out.mkdir()  # a folder of that name: the finished temp file cannot be renamed over it
    assert oee(plant, what, "--out", str(out), "--shift", "Early@2026-11-24") == 1
    assert capsys.readouterr().err.startswith(f"oee export {what}: {out} was not written: [Errno 21] Is a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "oee.toml", "taken.csv"]
    assert list(out.iterdir()) == []


def test_a_store_in_use_gives_exit_3(plant: tuple[Path, Path], tmp_path: Path, capsys: Capsys) -> None:
    holder = Store.open(plant[1])  # as a running engine would
    try:
        assert oee(plant, "samples", "--out", str(tmp_path / "s.parquet")) == 3
    finally:
        holder.close()
    assert "is in use by process" in capsys.readouterr().err
    assert not (tmp_path / "s.parquet").exists()


def test_no_store_yet_is_a_clear_error(tmp_path: Path, capsys: Capsys) -> None:
    config_path = tmp_path / "oee.toml"
    config_path.write_text(CONFIG_TOML, encoding="utf-8")
    assert oee((config_path, tmp_path / "empty"), "stops", "--out", str(tmp_path / "s.csv")) == 2
    assert capsys.readouterr().err == (f"oee export stops: no data yet in {tmp_path / 'empty'}; run `oee engine` "
                                       "(or `oee --demo`) first\n")


def test_demo_exports_the_demo_store(tmp_path: Path, capsys: Capsys) -> None:
    store = Store.open(tmp_path / "demo")  # where `oee --demo --data-dir tmp_path` keeps its data
    store.upsert_intervals([StateInterval("L1-FILL", at("06:00"), at("06:30"), MachineState.RUNNING),
                            StateInterval("L2-SEAM", at("06:00"), at("06:05"), MachineState.DOWN)])
    store.close()
    out = tmp_path / "stops.csv"
    assert main(["--demo", "--data-dir", str(tmp_path), "export", "stops", "--out", str(out), "--line", "L2"]) == 0
    assert [(r["machine"], r["line"], r["class"]) for r in csv_rows(out)] == [("L2-SEAM", "L2", "breakdown")]
    assert capsys.readouterr().out.startswith(f"wrote 1 row of stops to {out} (csv, ")
