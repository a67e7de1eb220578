"""The lines above and below the preview: what kind the file was taken for, and what was read, found and
written."""

from __future__ import annotations

from typing import TYPE_CHECKING

from oee_tui.imports.preview import ImportPreview
from oee_tui.screens.file_import.preview_table import MARK, MAX_PROBLEMS_SHOWN, PreviewTable

if TYPE_CHECKING:
    from oee_tui.imports.write import WriteSummary


def status_text(checked: ImportPreview, chosen_kind: str | None) -> str:
    """`Detected schedule: …`, or why no kind was found; `chosen_kind`: the kind the planner picked by hand."""
    detection = checked.detection
    if detection is None:
        return str(checked.problems[0]) if checked.problems else "The file could not be read."
    if checked.kind is None:
        return detection.message + ". Pick the kind above (Kind)."
    best = detection.best
    if chosen_kind is not None and (best is None or best.kind != checked.kind):
        fits = next((score for score in detection.ranking if score.kind == checked.kind), None)
        named = fits.describe() if fits is not None else f"{checked.kind}: its header is not found"
        return f"Kind chosen by hand: {named}."
    text = f"Detected {best.describe()}" if best is not None else "Detected nothing"
    if detection.ambiguous:
        text += f"; {detection.ranking[1].kind} fits as well: check the kind"
    return text + "."


def summary_text(checked: ImportPreview, table: PreviewTable | None, written: WriteSummary | None,
                 cannot_write: str | None = None) -> str:
    """`12,000 rows read · first 500 shown · ✕ 3 problems in 2 rows · fix the file, then ctrl+r`, or what the
    import wrote. `cannot_write`: why this user may check a file but not import it (their role)."""
    if written is not None:
        return f"Imported ({written.kind}): {written}"
    parts = [f"{checked.rows_read:,} rows read"]
    if table is not None and checked.rows_read > table.shown_rows:
        parts.append(f"first {table.shown_rows:,} shown"
                     + (f" +{table.extra_rows:,} with problems" if table.extra_rows else ""))
    problems = len(checked.problems)
    if problems:
        rows = checked.rows_with_problems
        parts.append(f"{MARK} {problems:,} problem{'s' if problems != 1 else ''}"
                     + (f" in {rows:,} row{'s' if rows != 1 else ''}" if rows else "")
                     + (f", first {MAX_PROBLEMS_SHOWN:,} listed" if problems > MAX_PROBLEMS_SHOWN else ""))
        parts.append("fix the file, then ctrl+r")
    elif checked.kind is None:
        parts.append("no kind")
    elif checked.can_import and cannot_write is not None:
        parts.append(f"no problems; {cannot_write}")
    elif checked.can_import:
        parts.append("no problems: ctrl+s imports it")
    else:
        parts.append("no rows to import")
    return " · ".join(parts)
