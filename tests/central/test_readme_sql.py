"""The README's example SQL for analysts runs against a central database holding two edges' data."""

from __future__ import annotations

import re
from pathlib import Path

from tests.central.cluster import CentralDb

README = Path(__file__).parents[2] / "README.md"


def _examples() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Central schema"):]
    section = section[:section.index("\n## ", 4)]
    return re.findall(r"```sql\n(.*?)```", section, re.DOTALL)


def test_every_example_query_runs_and_answers(edges: dict[str, Path], central: CentralDb) -> None:
    examples = _examples()
    queries = [q for q in examples if q.lstrip().startswith("SELECT")]
    assert len(queries) == 4 and len(examples) == 5  # and the read-only role's statements
    with central.connect() as conn:
        # The examples say "the last week" and "November": the test's day is 2026-11-24.
        conn.execute("SET TIME ZONE 'UTC'")
        answers = []
        for query in queries:
            answers.append(conn.execute(query.replace("now()", "TIMESTAMPTZ '2026-11-25 00:00+00'")).fetchall())
    by_shift, by_day, window, pareto = answers
    assert {(row[0], row[1], row[2]) for row in by_shift} == {
        (site, line, shift) for site, line in (("North", "L1"), ("South", "L9")) for shift in ("Early", "Late")}
    assert all(0 < row[4] < 1 for row in by_shift)
    days = {(row[0], row[1]): row[3] for row in by_day if str(row[2]) == "2026-11-24"}
    assert set(days) == {("North", "L1"), ("South", "L9")} and all(0 < oee < 1 for oee in days.values())
    assert 0 < window[0][0] < 1
    assert {row[0] for row in pareto} == {"L1", "L9"}
