"""Every query of the shipped Grafana dashboard runs against a central database holding two edges' data,
as a read-only role, with the macros and variables expanded the way Grafana's PostgreSQL datasource does."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.central.cluster import CentralDb
from tests.central.two_edges import at

DEPLOY = Path(__file__).parents[2] / "deploy" / "grafana"
DASHBOARD = DEPLOY / "dashboards" / "oee-central.json"


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def _quoted(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def expand(query: str, start: datetime, end: datetime, variables: dict[str, list[str] | str]) -> str:
    """Grafana's macros and template variables, as its PostgreSQL datasource expands them."""
    frm, to = f"'{start.isoformat()}'", f"'{end.isoformat()}'"
    query = re.sub(r"\$__timeFilter\(([^)]+)\)", lambda m: f"{m.group(1)} BETWEEN {frm} AND {to}", query)
    query = query.replace("$__timeFrom()", frm).replace("$__timeTo()", to)
    for name, value in variables.items():
        text = value if isinstance(value, str) else _quoted(value)
        query = query.replace(f"${{{name}}}", text).replace(f"${name}", text)
    assert "$" not in query, f"a macro or variable the test does not know: {query}"
    return query


def read_only(central: CentralDb) -> str:
    """A role that can only read the schema, as the README tells Grafana's to be."""
    with central.connect() as conn:
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'grafana') "
                     "THEN CREATE ROLE grafana LOGIN; END IF; END $$")
        conn.execute("GRANT USAGE ON SCHEMA oee TO grafana")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA oee TO grafana")
    return central.url.replace("postgres@", "grafana@")


def test_the_provisioning_files_point_the_dashboard_at_its_datasource() -> None:
    # Read as text: the project has no YAML library, and these few keys need none.
    source = (DEPLOY / "provisioning" / "datasources" / "oee-central.yaml").read_text()
    assert "type: grafana-postgresql-datasource" in source and "uid: oee-central" in source
    # The password is only ever an environment variable, under secureJsonData.
    assert re.findall(r"password: (.*)", source) == ["${OEE_CENTRAL_GRAFANA_PASSWORD}"]
    provider = (DEPLOY / "provisioning" / "dashboards" / "oee-central.yaml").read_text()
    assert "path: /var/lib/grafana/dashboards/oee" in provider
    dashboard = _dashboard()
    uids = {target["datasource"]["uid"] for panel in dashboard["panels"] for target in panel["targets"]}
    assert uids == {"oee-central"}
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert any("Plant OEE" in t for t in titles) and "OEE by line" in titles and "OEE by machine" in titles
    assert any("Pareto" in t for t in titles) and "Machine states" in titles


def test_every_query_runs_and_answers_from_the_pushed_data(edges: dict[str, Path], central: CentralDb) -> None:
    dashboard = _dashboard()
    url = read_only(central)
    start = datetime.fromtimestamp(at("06:00"), UTC)
    end = datetime.fromtimestamp(at("22:00"), UTC)
    answers: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        # The variables' own queries first, each fed what the one before it offers (all selected).
        variables: dict[str, list[str] | str] = {}
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                rows = conn.execute(expand(variable["query"], start, end, variables)).fetchall()
                variables[variable["name"]] = [row[0] for row in rows]
        assert variables["site"] == ["North", "South"] and variables["line"] == ["L1", "L9"]
        assert variables["machine"] == ["A", "B"]
        for level in ("1m", "5m", "1h", "1d"):
            for panel in dashboard["panels"]:
                for target in panel["targets"]:
                    sql = expand(target["rawSql"], start, end, {**variables, "level": level})
                    answers[f"{panel['title']} {level}"] = conn.execute(sql).fetchall()
    [(availability, performance, quality, oee)] = answers["Plant OEE, availability, performance, quality 1h"]
    with central.connect() as conn:
        [(expected,)] = conn.execute(
            "SELECT sum(good_ideal_s) / sum(planned_production_s) FROM oee.site_oee_1h "
            "WHERE bucket >= %s AND bucket <= %s", (start, end)).fetchall()
    assert oee == pytest.approx(expected) and oee == pytest.approx(availability * performance * quality)
    assert [row[0] for row in answers["OEE by line 1h"]] == ["North / L1", "South / L9"]
    assert len(answers["OEE by machine 1h"]) == 4
    pareto = answers["Downtime Pareto (breakdowns, setups, minor stops by reason) 1h"]
    # Both edges' breakdown at 08:00 has no reason; the setup at 15:13:20 has one; the minor stops follow.
    assert pareto[0][0] in ("no reason: down", "Setup / changeover") and pareto[0][1] > 30
    assert [row[1] for row in pareto] == sorted((row[1] for row in pareto), reverse=True)
    states = answers["Machine states 1h"]
    assert {row[1] for row in states} == {"edge-1 A", "edge-1 B", "edge-2 A", "edge-2 B"}
    assert {row[2] for row in states} >= {"running", "down", "planned_stop", "offline", "changeover"}
    # BETWEEN, as Grafana writes it, takes the bucket starting at the range's end too: 17 hours a line.
    assert len(answers["OEE by line over time 1h"]) == 2 * 17
