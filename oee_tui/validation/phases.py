"""The phases `oee validate` can run, in the order it runs them, and where the pytest suite lives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from oee_tui.validation.suite_phases import SUITE_PHASES

SITE_ID: Final = "site"
CALCULATOR_ID: Final = "calculator"


@dataclass(frozen=True, slots=True)
class Phase:
    id: str
    title: str
    marker: str | None = None  # a pytest phase's marker; None for a built-in phase (phase_main.py)

    @property
    def is_suite(self) -> bool:
        return self.marker is not None


PHASES: Final = (
    Phase(SITE_ID, "Site acceptance"),
    Phase(CALCULATOR_ID, "Calculator self-test"),
    *(Phase(phase.id, f"Test suite: {phase.title.lower()}", phase.marker) for phase in SUITE_PHASES),
)
PHASE_IDS: Final = tuple(phase.id for phase in PHASES)
SUITE_PHASE_IDS: Final = tuple(phase.id for phase in PHASES if phase.is_suite)


def phases_named(ids: list[str] | tuple[str, ...] | None) -> tuple[Phase, ...]:
    """The phases of `ids` in the suite's order (all of them for None or empty). Raises ValueError for
    an unknown id, naming the known ones."""
    if not ids:
        return PHASES
    unknown = [name for name in ids if name not in PHASE_IDS]
    if unknown:
        raise ValueError(f"no phase {', '.join(unknown)}; phases: {', '.join(PHASE_IDS)}")
    return tuple(phase for phase in PHASES if phase.id in ids)


def source_checkout() -> Path | None:
    """The tests folder of the source checkout this package runs from, or None when it was installed
    without its tests (a wheel): the suite's phases then cannot run."""
    import oee_tui

    root = Path(oee_tui.__file__).resolve().parent.parent
    tests = root / "tests"
    if (tests / "conftest.py").is_file() and (root / "pyproject.toml").is_file():
        return tests
    return None
