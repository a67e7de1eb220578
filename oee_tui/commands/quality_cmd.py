"""`oee quality`: the data-quality checks of each source, per clock hour: completeness, range violations,
duplicates, out-of-order timestamps and the device clock's skew.

Attached, the engine's live counters (this hour so far and the closed hours it holds); with no engine,
the hours the engine stored (an hour is stored when it ends, and the hour so far when the engine stops).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from oee_tui.commands.common import EXIT_OK, EXIT_USAGE, plant, positive_int, print_rows, store_dir_of
from oee_tui.model.data_quality import QualityReport, SourceQuality
from oee_tui.quality_text import as_json, completeness_text, expected_text, skew_text

if TYPE_CHECKING:
    from oee_tui.service.client import EngineClient

SOURCE_HEADER = ("source", "kind", "complete", "received", "expected", "range", "dupl", "order", "skew")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "quality", parents=[common], help="data-quality checks per source: completeness, ranges, duplicates, skew",
        description="Per source and clock hour: samples received against those expected (n/a for a subscription "
                    "without expected_every_s), good values outside the tag map's min/max, duplicates (the same "
                    "time and value again), out-of-order timestamps, and the device clock's skew (n/a where "
                    "samples carry no device time). Live from the running engine; without one, the stored hours.")
    parser.add_argument("--source", metavar="NAME", help="only this source, with each of its tags")
    parser.add_argument("--hours", type=positive_int, default=24, metavar="N",
                        help="closed hours to show, newest first (default 24)")
    parser.add_argument("--json", action="store_true", help="JSON instead of tables")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    from oee_tui.commands.attached import in_engine

    async def attached(client: EngineClient) -> int:
        report: QualityReport = await client.call("data_quality", source=args.source)
        return _show(args, report, ZoneInfo(client.hello["timezone"]))

    done = in_engine(store_dir_of(args, data_dir), "oee quality", attached)
    if done is not None:
        return done
    return _standalone(args, config_path, data_dir)


def _standalone(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    from oee_tui.engine.live.data_quality import expectation_of, group_by_source
    from oee_tui.store import Store

    config, store_dir = plant(args, config_path, data_dir)
    names = {source.name for source in config.sources}
    if args.source is not None and args.source not in names:
        known = ", ".join(sorted(names)) or "(none)"
        print(f"oee quality: no source {args.source!r} in the config (sources: {known})", file=sys.stderr)
        return EXIT_USAGE
    now = time.time()
    rows = []
    if (store_dir / Store.DB_FILENAME).exists():
        with Store.open(store_dir) as store:
            rows = store.quality_hours(now - args.hours * 3600.0, args.source)
    expectations = {source.name: expectation_of(source) for source in config.sources}
    report = QualityReport(now, (), tuple(group_by_source(rows, expectations)), live=False)
    return _show(args, report, config.tz)


def _show(args: argparse.Namespace, report: QualityReport, tz: ZoneInfo) -> int:
    hours = report.hours[:args.hours * max(1, len({quality.source for quality in report.hours}))]
    if args.json:
        print(json.dumps({"live": report.live, "ts": report.ts,
                          "current": [as_json(quality) for quality in report.current],
                          "hours": [as_json(quality) for quality in hours]}, indent=2))
        return EXIT_OK
    if report.live:
        since = min((quality.hour for quality in report.current), default=report.ts)
        print(f"this hour (since {_clock(since, tz)}), live from the engine:")
        print_rows([SOURCE_HEADER, *(_source_row(quality) for quality in report.current)])
        if args.source is not None:
            for quality in report.current:
                _show_tags(quality)
    else:
        print("no engine runs: the hours it stored (the checks are counted only while an engine runs)")
    if hours:
        print("\nclosed hours, newest first:" if report.live else "")
        print_rows([("hour", *SOURCE_HEADER), *((_clock(quality.hour, tz, date=True), *_source_row(quality))
                                                for quality in hours)])
    elif not report.live:
        print("no hours stored yet" + (f" for {args.source}" if args.source else ""))
    return EXIT_OK


def _show_tags(quality: SourceQuality) -> None:
    print(f"\n{quality.source}'s tags:")
    rows = [("tag", "complete", "received", "expected", "range", "min..max", "dupl", "order", "skew",
             "last out of range")]
    for tag in quality.tags:
        bounds = "" if tag.range_low is None and tag.range_high is None else \
            f"{_bound(tag.range_low)}..{_bound(tag.range_high)}"
        rows.append((tag.tag, completeness_text(tag), f"{tag.received:,}", expected_text(tag.expected),
                     f"{tag.range_violations:,}", bounds, f"{tag.duplicates:,}", f"{tag.out_of_order:,}",
                     skew_text(tag.skew_s, quality.device_time),
                     "" if tag.last_violation is None else f"{tag.last_violation:g}"))
    print_rows(rows)


def _bound(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _source_row(quality: SourceQuality) -> tuple[str, ...]:
    return (quality.source, quality.kind, completeness_text(quality), f"{quality.received:,}",
            expected_text(quality.expected), f"{quality.range_violations:,}", f"{quality.duplicates:,}",
            f"{quality.out_of_order:,}", skew_text(quality.skew_s, quality.device_time))


def _clock(ts: float, tz: ZoneInfo, *, date: bool = False) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M" if date else "%H:%M")
