"""Where the `oee` process's log lines go, and in which format: text for people, or one JSON object a
line for a log shipper (journald with a JSON parser, Loki, Elasticsearch)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# What every LogRecord carries; anything else on a record came from a call's `extra={...}`.
_RECORD_FIELDS: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO 8601, UTC), level, logger, message, exc (the traceback, when there
    is one) and every field a call gave with `extra=`. A value JSON cannot hold is written as its repr, so a
    log line never fails."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and name not in entry:
                entry[name] = value
        return json.dumps(entry, default=repr, ensure_ascii=False)


def setup_logging(verbose: bool, log_file: Path | None, log_format: str = "text") -> None:
    """The root logger: debug with `verbose`, else info; to `log_file`, or stderr when None; `log_format`
    "text" or "json"."""
    level = logging.DEBUG if verbose else logging.INFO
    root = logging.getLogger()
    # As logging.basicConfig did: a root logger that already has handlers (a host program's, pytest's
    # capture) is left as it is.
    if not root.handlers:
        if log_file is None:
            handler: logging.Handler = logging.StreamHandler(sys.stderr)
        else:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
        root.addHandler(handler)
        root.setLevel(level)
    # asyncua and pymodbus log every failed reconnect attempt at length; the source health says it once.
    for noisy in ("asyncua", "pymodbus", "snap7"):
        logging.getLogger(noisy).setLevel(logging.ERROR if not verbose else logging.INFO)
