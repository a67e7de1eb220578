"""asyncua's log lines that repeat what the driver already says, cut to one line each.

On every server loss asyncua's publish loop logs "Publish iteration crashed" at ERROR with a full
traceback, once a second until the session is closed; the driver reports the loss itself ("connection
lost: ..."). On every connect to a server that revises the session timeout (which OPC UA allows) it warns
"Requested session timeout to be ..ms, got ..ms instead", and with no log set up (`oee devices`) Python
prints that warning on stderr. The first line of each kind stays, as one line without traceback; repeats
go to DEBUG, kept only when debug logging is on (-v).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class _Noise:
    logger: str  # the asyncua logger the line comes from (asyncua 2.1)
    message: str  # its format string, before % arguments
    first_level: int  # the level of the first line of this kind; repeats are DEBUG


_NOISE: Final = (
    _Noise("asyncua.client.ua_session.UaSession", "Publish iteration crashed; retrying in 1s", logging.WARNING),
    # A revised timeout is the server's right and the client adopts it: nothing to act on, so INFO, which
    # also keeps it off the stderr of a command that sets up no log.
    _Noise("asyncua.client.client", "Requested session timeout to be %dms, got %dms instead", logging.INFO),
    _Noise("asyncua.client.client", "Requested secure channel timeout to be %dms, got %dms instead",
           logging.INFO),
)


class _OnceThenDebug(logging.Filter):
    """Rewrites the known noisy records of one logger; lets every other record through unchanged."""

    def __init__(self, noises: tuple[_Noise, ...]) -> None:
        super().__init__()
        self._levels = {noise.message: noise.first_level for noise in noises}
        self._seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        first_level = self._levels.get(record.msg) if isinstance(record.msg, str) else None
        if first_level is None:
            return True
        repeat = record.msg in self._seen
        self._seen.add(record.msg)
        exc = record.exc_info[1] if record.exc_info else None
        # Formatted here, once: the arguments are asyncua's, the cause replaces the traceback.
        text = record.getMessage().removesuffix("; retrying in 1s")
        if exc is not None:
            text = f"{text}: {type(exc).__name__}: {exc}" if str(exc) else f"{text}: {type(exc).__name__}"
        record.msg, record.args = text if repeat else f"{text} (repeats are logged at debug level)", None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        level = logging.DEBUG if repeat else first_level
        record.levelno, record.levelname = level, logging.getLevelName(level)
        # A propagated record meets only the handlers' levels, not the root logger's: a repeat must be
        # dropped here unless debug logging is on.
        return not repeat or logging.getLogger().isEnabledFor(logging.DEBUG)


def quiet_asyncua(fresh: bool = False) -> None:
    """Install the filters on asyncua's loggers; calling it again changes nothing, unless `fresh`: then the
    filters are replaced and forget the lines they have seen, as in a new process (for tests)."""
    by_logger: dict[str, list[_Noise]] = {}
    for noise in _NOISE:
        by_logger.setdefault(noise.logger, []).append(noise)
    for name, noises in by_logger.items():
        logger = logging.getLogger(name)
        installed = [f for f in logger.filters if isinstance(f, _OnceThenDebug)]
        if installed and not fresh:
            continue
        for old in installed:
            logger.removeFilter(old)
        logger.addFilter(_OnceThenDebug(tuple(noises)))
