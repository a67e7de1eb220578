"""Requests that read the store, run in the engine on cursors of their own (DuckDB's MVCC: ingest goes on)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from oee_tui.engine.analysis.report import ReportError
from oee_tui.exports.export_request import ExportRequest, run_export
from oee_tui.exports.report_output import REPORT_FORMATS, report_output
from oee_tui.exports.tables import ExportError
from oee_tui.model import DeadLetter
from oee_tui.model.access import Action
from oee_tui.model.audit import AuditVerdict
from oee_tui.service.ops import Op, OpContext, OpError, number_arg, text_arg
from oee_tui.store import PlanningError

EXPORT_PART_BYTES: Final = 4 * 1024 * 1024


async def report(context: OpContext, args: Mapping[str, Any]) -> str:
    fmt = text_arg(args, "format") or "table"
    if fmt not in REPORT_FORMATS:
        raise OpError("bad_request", f"format must be one of {', '.join(REPORT_FORMATS)}")
    store, config = context.store(), context.config
    try:
        return await context.in_thread(lambda: report_output(
            store, config, time.time(), shift=text_arg(args, "shift"), start=text_arg(args, "start"),
            end=text_arg(args, "end"), fmt=fmt))
    except (ReportError, PlanningError) as exc:
        raise OpError("bad_request", str(exc)) from None


async def dead_letters(context: OpContext, args: Mapping[str, Any]) -> tuple[DeadLetter, ...]:
    limit = int(number_arg(args, "limit"))
    since = args.get("since")
    if since is not None:
        since = number_arg(args, "since")
    store = context.store()
    return tuple(await context.in_thread(lambda: store.dead_letters(limit, source=text_arg(args, "source"),
                                                                    since=since)))


async def export(context: OpContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """The export written to a private file of the engine's, then sent in parts; the client writes the
    user's file, so it belongs to whoever asked, where they may write."""
    request = ExportRequest(
        what=text_arg(args, "what", required=True) or "", fmt=text_arg(args, "format", required=True) or "",
        shift=text_arg(args, "shift"), start=text_arg(args, "start"), end=text_arg(args, "end"),
        lines=_names(args, "lines"), machines=_names(args, "machines"), per=text_arg(args, "per") or "shift")
    store, config = context.store(), context.config
    folder = Path(tempfile.mkdtemp(prefix=".export-", dir=context.data_dir))
    try:
        path = folder / f"export.{request.fmt}"
        try:
            rows = await context.in_thread(run_export, store, config, request, path, time.time())
        except (ExportError, ReportError, PlanningError) as exc:
            raise OpError("bad_request", str(exc)) from None
        size = os.path.getsize(path)
        with open(path, "rb") as file:
            while part := await context.in_thread(file.read, EXPORT_PART_BYTES):
                await context.send_part({"bytes": part, "size": size})
        return {"rows": rows, "bytes": size}
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)


async def audit_list(context: OpContext, args: Mapping[str, Any]) -> dict[str, Any]:
    """The newest audit entries matching the filters, and the chain's head (to copy off the box)."""
    store = context.store()
    start = None if args.get("start") is None else number_arg(args, "start")
    end = None if args.get("end") is None else number_arg(args, "end")
    limit = int(number_arg(args, "limit")) if args.get("limit") is not None else 1000

    def read() -> dict[str, Any]:
        entries = store.audit_entries(user=text_arg(args, "user"), kind=text_arg(args, "kind"), start=start,
                                      end=end, limit=limit)
        return {"entries": tuple(entries), "head": store.audit_head()}

    return await context.in_thread(read)


async def audit_verify(context: OpContext, args: Mapping[str, Any]) -> AuditVerdict:
    expect = args.get("expect")
    if expect is not None and not (isinstance(expect, list | tuple) and len(expect) == 2
                                   and isinstance(expect[0], int) and isinstance(expect[1], str)):
        raise OpError("bad_request", "expect must be (seq, hash)")
    store = context.store()
    return await context.in_thread(store.verify_audit, None if expect is None else (expect[0], expect[1]))


def _names(args: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = args.get(key) or ()
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise OpError("bad_request", f"{key} must be a list of names")
    return tuple(value)


OPS = (
    Op("report", Action.VIEW, "run reports", report),
    Op("dead_letters", Action.VIEW, "read dead letters", dead_letters),
    Op("export", Action.VIEW, "export data", export),
    Op("audit_list", Action.AUDIT, "read the audit trail", audit_list),
    Op("audit_verify", Action.AUDIT, "verify the audit trail", audit_verify),
)
