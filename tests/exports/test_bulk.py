"""Bulk exports (samples, intervals, stops) through DuckDB's COPY from a real store, read back and compared
with the rows that were written; filters, empty results, failures and progress."""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from oee_tui.engine.oee.calculator import classify_interval
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.exports.bulk import Selection, bulk_query, copy_to_file, format_for
from oee_tui.exports.oee_rows import oee_rows, periods
from oee_tui.exports.tables import ExportError
from oee_tui.model import MachineState, Span, StateInterval
from oee_tui.store import Store
from tests.exports.plant_data import CONFIG, INTERVALS, NOW, SAMPLES, at, fill, newest_reasons

SAMPLE_COLUMNS = ["ts_utc", "source", "tag", "value_num", "value_text", "quality"]
INTERVAL_COLUMNS = ["machine", "line", "start_utc", "end_utc", "state", "duration_s", "reason", "reason_by",
                    "reason_at_utc"]
STOP_COLUMNS = ["machine", "line", "start_utc", "end_utc", "duration_s", "state", "class", "reason",
                "reason_name", "reason_by", "reason_at_utc"]
LINE_OF = {m.id: m.line for m in CONFIG.machines}
EVERYTHING = Selection()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    fill(tmp_path / "data")
    store = Store.open(tmp_path / "data")
    yield store
    store.close()


def export(store: Store, kind: str, path: Path, selection: Selection = EVERYTHING, **kwargs: Any) -> int:
    fmt = format_for(path, None)
    sql, params = bulk_query(kind, CONFIG, selection, fmt, NOW)
    cursor = store.cursor()
    try:
        return copy_to_file(cursor, sql, params, path, fmt, **kwargs)
    finally:
        cursor.close()


def utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def read_parquet(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    table = pq.read_table(path)
    return table.column_names, table.to_pylist()


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def csv_time(text: str) -> datetime | None:
    return None if text == "" else datetime.fromisoformat(text).replace(tzinfo=UTC)


def left_behind(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# ---------------------------------------------------------------- samples

def expected_samples(tags: set[tuple[str, str]] | None = None, start: float | None = None,
                     end: float | None = None) -> list[dict[str, Any]]:
    return [
        dict(zip(SAMPLE_COLUMNS, (utc(ts), source, tag, num, text, quality), strict=True))
        for ts, source, tag, num, text, quality in SAMPLES
        if (tags is None or (source, tag) in tags) and (start is None or ts >= start) and (end is None or ts < end)
    ]


def test_every_sample_goes_to_parquet_with_utc_times(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "samples.parquet"
    assert export(store, "samples", path) == len(SAMPLES)
    columns, rows = read_parquet(path)
    assert columns == SAMPLE_COLUMNS
    assert str(pq.read_schema(path).field("ts_utc").type) == "timestamp[us, tz=UTC]"
    assert rows == expected_samples()
    assert left_behind(tmp_path) == []


@pytest.mark.parametrize(("selection", "tags", "start", "end"), [
    # --from is inclusive, --to exclusive: 06:00:01 is in, 06:00:04 is out
    (Selection(start=at("06:00:01"), end=at("06:00:04")), None, at("06:00:01"), at("06:00:04")),
    (Selection(start=at("06:00:02")), None, at("06:00:02"), None),
    (Selection(end=at("06:00:01.5")), None, None, at("06:00:01.5")),
    # machine A maps hr:0 and hr:1; line L2 is machine C alone
    (Selection(machines=("A",)), {("plc", "hr:0"), ("plc", "hr:1")}, None, None),
    (Selection(machines=("C",), start=at("06:00:03")), {("opc", "ns=2;s=C.Count")}, at("06:00:03"), None),
    (Selection(machines=("A", "B")), {("plc", "hr:0"), ("plc", "hr:1"), ("plc", "hr:10")}, None, None),
])
def test_samples_to_csv_keep_the_range_and_the_machines_signals(
        store: Store, tmp_path: Path, selection: Selection, tags: set[tuple[str, str]] | None,
        start: float | None, end: float | None) -> None:
    path = tmp_path / "samples.csv"
    want = expected_samples(tags, start, end)
    assert export(store, "samples", path, selection) == len(want)
    columns, rows = read_csv(path)
    assert columns == SAMPLE_COLUMNS
    got = [{"ts_utc": csv_time(r["ts_utc"]), "source": r["source"], "tag": r["tag"],
            "value_num": float(r["value_num"]) if r["value_num"] else None,
            "value_text": r["value_text"] or None, "quality": r["quality"]} for r in rows]
    assert got == want


def test_csv_times_are_utc_text(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "samples.csv"
    export(store, "samples", path, Selection(end=at("06:00:02")))
    lines = path.read_text(encoding="utf-8").splitlines()
    # 06:00 in Berlin in November is 05:00 UTC
    assert lines[:4] == ["ts_utc,source,tag,value_num,value_text,quality",
                         "2026-11-24 05:00:00,plc,hr:0,1.0,,good",
                         "2026-11-24 05:00:01,plc,hr:1,1.0,,good",
                         "2026-11-24 05:00:01.5,plc,hr:10,7.0,,good"]


def test_a_machine_with_no_mapped_signals_exports_no_samples(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "none.parquet"
    no_signals = Selection(machines=())
    assert export(store, "samples", path, no_signals) == 0
    columns, rows = read_parquet(path)
    assert (columns, rows) == (SAMPLE_COLUMNS, [])


# ---------------------------------------------------------------- intervals and stops

def expected_intervals(machines: set[str] | None = None, start: float | None = None,
                       end: float | None = None) -> list[dict[str, Any]]:
    reasons = newest_reasons()
    out = []
    for i in sorted(INTERVALS, key=lambda i: (i.machine, i.start)):
        if machines is not None and i.machine not in machines:
            continue
        if (end is not None and i.start >= end) or (start is not None and i.end is not None and i.end <= start):
            continue
        reason, who, when = reasons.get((i.machine, i.start), (None, None, None))
        out.append({"machine": i.machine, "line": LINE_OF[i.machine], "start_utc": utc(i.start),
                    "end_utc": utc(i.end), "state": i.state.value,
                    "duration_s": (i.end if i.end is not None else NOW) - i.start,
                    "reason": reason, "reason_by": who, "reason_at_utc": utc(when)})
    return out


def test_every_interval_with_its_newest_reason_to_parquet(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "intervals.parquet"
    assert export(store, "intervals", path) == len(INTERVALS)
    columns, rows = read_parquet(path)
    assert columns == INTERVAL_COLUMNS
    assert rows == expected_intervals()
    # A's 08:00 stop had FAIL from ann, then FAIL.MECH from bob: the newer one is exported
    stop = next(r for r in rows if r["machine"] == "A" and r["start_utc"] == utc(at("08:00")))
    assert (stop["reason"], stop["reason_by"], stop["reason_at_utc"]) == ("FAIL.MECH", "bob", utc(at("08:45")))


@pytest.mark.parametrize(("machines", "start", "end"), [
    # overlapping [08:10, 09:00): B's 06:00-09:00 run is in, its 09:00 minor stop is out, A's 08:00 stop is in
    (None, at("08:10"), at("09:00")),
    ({"A", "B"}, at("09:00"), None),  # B's open stop is in
    ({"C"}, None, at("14:00")),  # C's 14:00 stop starts at the end: out
])
def test_intervals_to_csv_overlap_the_range_and_keep_the_machines(
        store: Store, tmp_path: Path, machines: set[str] | None, start: float | None, end: float | None) -> None:
    path = tmp_path / "intervals.csv"
    selection = Selection(tuple(sorted(machines)) if machines else None, start, end)
    want = expected_intervals(machines, start, end)
    assert export(store, "intervals", path, selection) == len(want)
    columns, rows = read_csv(path)
    assert columns == INTERVAL_COLUMNS
    got = [{"machine": r["machine"], "line": r["line"], "start_utc": csv_time(r["start_utc"]),
            "end_utc": csv_time(r["end_utc"]), "state": r["state"], "duration_s": float(r["duration_s"]),
            "reason": r["reason"] or None, "reason_by": r["reason_by"] or None,
            "reason_at_utc": csv_time(r["reason_at_utc"])} for r in rows]
    assert got == want


def test_stops_are_the_stop_states_classed_as_the_calculator_does(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "stops.parquet"
    reasons = newest_reasons()
    stops = [i for i in sorted(INTERVALS, key=lambda i: (i.machine, i.start)) if i.state.is_stop]
    assert export(store, "stops", path) == len(stops)
    columns, rows = read_parquet(path)
    assert columns == STOP_COLUMNS
    names = {r.code: r.name for r in CONFIG.reasons}
    config_reasons = {r.code: r for r in CONFIG.reasons}
    for stop, row in zip(stops, rows, strict=True):
        reason, who, when = reasons.get((stop.machine, stop.start), (None, None, None))
        interval = StateInterval(stop.machine, stop.start, stop.end, stop.state, reason, who, when)
        assert row == {
            "machine": stop.machine, "line": LINE_OF[stop.machine], "start_utc": utc(stop.start),
            "end_utc": utc(stop.end), "duration_s": (stop.end or NOW) - stop.start, "state": stop.state.value,
            "class": classify_interval(interval, CONFIG.machine(stop.machine), config_reasons, NOW),
            "reason": reason, "reason_name": names.get(reason) if reason else None, "reason_by": who,
            "reason_at_utc": utc(when)}
    # Every class shows up, so the SQL's every branch was held against the calculator above.
    assert {(r["machine"], r["start_utc"].astimezone(UTC).strftime("%H:%M:%S"), r["class"]) for r in rows} == {
        ("A", "06:00:00", "minor_stop"), ("A", "07:00:00", "breakdown"), ("A", "07:20:00", "setup"),
        ("A", "10:00:00", "setup"), ("A", "11:00:00", "planned"), ("A", "11:10:00", "planned"),
        ("B", "08:00:00", "minor_stop"), ("B", "08:01:00", "minor_stop"), ("B", "08:10:00", "breakdown"),
        ("C", "13:00:00", "breakdown"),
    }
    assert MachineState.OFFLINE.value not in {r["state"] for r in rows}


def test_stops_to_csv_for_one_line_in_a_range(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "stops.csv"
    assert export(store, "stops", path, Selection(("A", "B"), at("09:00"), at("12:00"))) == 4
    _, rows = read_csv(path)
    assert [(r["machine"], r["start_utc"], r["end_utc"], r["duration_s"], r["class"], r["reason"], r["reason_name"])
            for r in rows] == [
        ("A", "2026-11-24 10:00:00", "2026-11-24 10:05:00", "300.0", "setup", "SETUP", "Changeover"),
        ("B", "2026-11-24 08:00:00", "2026-11-24 08:01:00", "60.0", "minor_stop", "", ""),
        ("B", "2026-11-24 08:01:00", "2026-11-24 08:10:00", "540.0", "minor_stop", "JAM", "Jam"),
        # open: no end; its length runs to the export's clock; a code the config lacks has no name
        ("B", "2026-11-24 08:10:00", "", str(NOW - at("09:10")), "breakdown", "LUNCH", ""),
    ]


# ---------------------------------------------------------------- empty, failures, progress

def test_nothing_matched_gives_a_header_only_csv_and_an_empty_parquet(store: Store, tmp_path: Path) -> None:
    before_anything = Selection(end=at("00:00", "2020-01-01"))
    assert export(store, "stops", tmp_path / "stops.csv", before_anything) == 0
    assert (tmp_path / "stops.csv").read_text(encoding="utf-8") == ",".join(STOP_COLUMNS) + "\n"
    assert export(store, "samples", tmp_path / "samples.parquet", before_anything) == 0
    assert read_parquet(tmp_path / "samples.parquet") == (SAMPLE_COLUMNS, [])


def test_a_failing_query_leaves_the_previous_file_and_no_temp_file(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "samples.csv"
    path.write_text("the previous export\n", encoding="utf-8")
    cursor = store.cursor()
    try:
        with pytest.raises(duckdb.Error, match="disk went away"):
            copy_to_file(cursor, "SELECT ts, error('disk went away') FROM samples", [], path, "csv")
    finally:
        cursor.close()
    assert path.read_text(encoding="utf-8") == "the previous export\n"
    assert left_behind(tmp_path) == []


def test_an_interrupted_export_stops_and_leaves_nothing(store: Store, tmp_path: Path) -> None:
    cursor = store.cursor()
    cursor.execute("INSERT INTO samples SELECT TIMESTAMP '2026-11-24' + to_microseconds(i * 1000), 'plc', "
                   "'hr:0', i::DOUBLE, NULL, 'good', 1 FROM range(2000000) t(i)")
    cursor.close()
    path = tmp_path / "samples.csv"
    path.write_text("the previous export\n", encoding="utf-8")
    calls: list[float] = []

    def ctrl_c_once_under_way(percent: float) -> None:
        calls.append(percent)
        if len(calls) > 1:  # from the progress thread while COPY runs (or, on a fast machine, at its end)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export(store, "samples", path, on_progress=ctrl_c_once_under_way)
    assert path.read_text(encoding="utf-8") == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "samples.csv"]
    # the store is still usable afterwards
    assert export(store, "samples", path, Selection(machines=("C",))) == 2


def test_progress_runs_from_0_to_100(store: Store, tmp_path: Path) -> None:
    cursor = store.cursor()
    cursor.execute("INSERT INTO samples SELECT TIMESTAMP '2026-11-24' + to_microseconds(i * 1000), 'plc', "
                   "'hr:0', i::DOUBLE, NULL, 'good', 1 FROM range(2000000) t(i)")
    cursor.close()
    seen: list[float] = []
    assert export(store, "samples", tmp_path / "samples.csv", on_progress=seen.append) == 2_000_000 + len(SAMPLES)
    assert seen[0] == 0.0
    assert seen[-1] == 100.0
    assert all(0.0 <= p <= 100.0 for p in seen)


def test_the_exports_duckdb_settings_are_put_back(store: Store, tmp_path: Path) -> None:
    # DuckDB settings are per database: an export from inside a running app must not keep its memory cap
    cursor = store.cursor()
    before = cursor.sql("SELECT current_setting('memory_limit')").fetchall()
    try:
        assert export(store, "samples", tmp_path / "s.parquet") == len(SAMPLES)
        assert cursor.sql("SELECT current_setting('memory_limit')").fetchall() == before
    finally:
        cursor.close()


def test_a_missing_folder_is_refused_before_the_query(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "nope" / "samples.csv"
    with pytest.raises(ExportError, match=r"samples\.csv: folder .*nope does not exist$"):
        export(store, "samples", path)


@pytest.mark.parametrize(("name", "given", "result"), [
    ("a.csv", None, "csv"), ("a.PARQUET", None, "parquet"), ("a.xlsx", None, "xlsx"), ("a.txt", "csv", "csv"),
    ("a", "parquet", "parquet"), ("a.csv", "csv", "csv"),
])
def test_the_format_comes_from_the_option_or_the_suffix(name: str, given: str | None, result: str) -> None:
    assert format_for(Path(name), given) == result


def test_a_format_that_cannot_be_told_or_contradicts_the_name_is_refused() -> None:
    with pytest.raises(ExportError) as unknown:
        format_for(Path("out/a.txt"), None)
    assert str(unknown.value) == ("out/a.txt: cannot tell the format from '.txt'; end the name in .csv, .parquet "
                                  "or .xlsx, or give --format")
    with pytest.raises(ExportError) as contradiction:
        format_for(Path("a.csv"), "parquet")
    assert str(contradiction.value) == "a.csv: the name says csv but --format says parquet; make them agree"


# ---------------------------------------------------------------- OEE periods

def test_oee_periods_are_the_shifts_cut_to_the_window_and_to_now() -> None:
    window, config_shifts = Span(at("10:00"), at("23:00")), Planning.empty()
    assert periods(CONFIG, window, "label", at("15:00"), per_shift=True, planning=config_shifts) == [
        ("Early@2026-11-24", Span(at("10:00"), at("14:00"))), ("Late@2026-11-24", Span(at("14:00"), at("15:00")))]
    assert periods(CONFIG, window, "label", at("15:00"), per_shift=False, planning=config_shifts) == [
        ("label", window)]
    assert periods(CONFIG, window, "label", at("09:00"), per_shift=True, planning=config_shifts) == []  # none run yet


def test_oee_rows_report_progress_per_period(store: Store) -> None:
    seen: list[float] = []
    spans = periods(CONFIG, Span(at("06:00"), at("22:00")), "label", NOW, per_shift=True, planning=Planning.empty())
    rows = oee_rows(store, CONFIG, spans, NOW, ("A",), None, on_progress=seen.append)
    assert [(row[0], row[2]) for row in rows] == [("Early@2026-11-24", "A"), ("Late@2026-11-24", "A")]
    assert seen == [0.0, 50.0, 100.0]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_every_export_gets_the_mode_the_umask_gives_a_new_file(store: Store, tmp_path: Path, umask: int) -> None:
    from oee_tui.exports.oee_rows import write_oee
    from oee_tui.exports.tables import write_table

    previous = os.umask(umask)
    try:
        export(store, "samples", tmp_path / "samples.csv")
        export(store, "intervals", tmp_path / "intervals.parquet")
        write_table(tmp_path / "review.csv", ("a",), [(1,)])
        write_table(tmp_path / "review.xlsx", ("a",), [(1,)])
        write_oee(tmp_path / "oee.parquet", "parquet", [])
        write_oee(tmp_path / "oee.txt", "csv", [])
    finally:
        os.umask(previous)
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in tmp_path.iterdir() if path.is_file()
             and path.suffix != ".duckdb" and not path.name.startswith(".")}
    assert modes == dict.fromkeys(["samples.csv", "intervals.parquet", "review.csv", "review.xlsx", "oee.parquet",
                                   "oee.txt"], 0o666 & ~umask)
