"""A validation run's report, as Markdown and as one self-contained HTML page, written beside its log.

What a commissioning engineer keeps as evidence: who ran what, where and when, each phase's counts,
every check of the site and calculator phases with what it found, and for the suite's phases every
test that did not pass, and every warning. A cancelled run says so at the top.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

from oee_tui.validation.junit import CaseResult, Outcome
from oee_tui.validation.run_record import REPORT_HTML, REPORT_MD, PhaseRecord, PhaseStatus, RunRecord, RunStatus

_LISTED_IN_FULL = ("site", "calculator")  # the suite's phases list only what did not pass


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def headline(record: RunRecord) -> str:
    counts = record.counts
    status = "RUNNING" if record.status is None else record.status.value.upper()
    text = (f"{status}: {counts.passed} passed, {counts.failed} failed, {counts.skipped} skipped, "
            f"{counts.errors} errors, {counts.warnings} warnings")
    if record.status is RunStatus.CANCELLED:
        text += (f"; cancelled at {_when(record.cancelled_at)}"
                 + (f" during {record.cancelled_in}" if record.cancelled_in else ""))
    return text


def _facts(record: RunRecord) -> list[tuple[str, str]]:
    return [
        ("Site", record.site or "-"), ("Run", record.id), ("Started", _when(record.started)),
        ("Finished", _when(record.finished)), ("By", f"{record.user} on {record.host}"),
        ("oee-tui", record.version), ("Config", record.config or "(the demo's, from its engine)"),
        ("Store", record.store_dir + (" (through the engine serving it)" if record.attached else "")),
    ]


def _listed(record: PhaseRecord) -> list[CaseResult]:
    if record.id in _LISTED_IN_FULL:
        return record.cases
    return [case for case in record.cases if case.outcome is not Outcome.PASSED]


def markdown(record: RunRecord) -> str:
    lines = [f"# Validation report: {record.site or 'plant'}", "", f"**{headline(record)}**", ""]
    if record.status is RunStatus.CANCELLED:
        lines += ["> This run was cancelled: the phase that was running has no counted results, and the phases "
                  "after it were not run.", ""]
    lines += ["| | |", "|---|---|", *(f"| {key} | {_md(value)} |" for key, value in _facts(record)), ""]
    lines += ["## Phases", "", "| phase | status | passed | failed | skipped | errors | warnings | seconds |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for phase in record.phases:
        c = phase.counts
        lines.append(f"| {phase.title} | {phase.status.value} | {c.passed} | {c.failed} | {c.skipped} | {c.errors} "
                     f"| {c.warnings} | {phase.seconds:.1f} |")
    for phase in record.phases:
        lines += ["", f"## {phase.title}: {phase.status.value}"]
        if phase.note:
            lines += ["", phase.note]
        listed = _listed(phase)
        if listed:
            lines += ["", "| result | check | what it found |", "|---|---|---|"]
            lines += [f"| {case.outcome.value} | {_md(case.name)} | {_md(case.message)} |" for case in listed]
        elif phase.status is PhaseStatus.PASSED:
            lines += ["", "Every test passed."]
        if phase.warnings:
            lines += ["", "Warnings:", "", *(f"* {_md(warning)}" for warning in phase.warnings)]
    lines += ["", "The full output of every phase is in the run's log, `validation.log`, beside this report.", ""]
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_STYLE = """body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #999;padding:.2em .5em;text-align:left;vertical-align:top}
.passed{color:#060}.failed,.error{color:#a00;font-weight:bold}.skipped,.cancelled,.not{color:#840}
.banner{padding:.5em;border:2px solid #840;background:#fed}"""


def html_page(record: RunRecord) -> str:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Validation report {e(record.id)}</title>",
             f"<style>{_STYLE}</style></head><body>", f"<h1>Validation report: {e(record.site or 'plant')}</h1>",
             f"<p><strong>{e(headline(record))}</strong></p>"]
    if record.status is RunStatus.CANCELLED:
        parts.append("<p class='banner'>This run was cancelled: the phase that was running has no counted "
                     "results, and the phases after it were not run.</p>")
    parts.append("<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _facts(record))
                 + "</table>")
    parts.append("<h2>Phases</h2><table><tr><th>phase</th><th>status</th><th>passed</th><th>failed</th>"
                 "<th>skipped</th><th>errors</th><th>warnings</th><th>seconds</th></tr>")
    for phase in record.phases:
        c = phase.counts
        parts.append(f"<tr><td>{e(phase.title)}</td><td class='{_css(phase.status.value)}'>{e(phase.status.value)}"
                     f"</td><td>{c.passed}</td><td>{c.failed}</td><td>{c.skipped}</td><td>{c.errors}</td>"
                     f"<td>{c.warnings}</td><td>{phase.seconds:.1f}</td></tr>")
    parts.append("</table>")
    for phase in record.phases:
        parts.append(f"<h2>{e(phase.title)}: <span class='{_css(phase.status.value)}'>{e(phase.status.value)}"
                     "</span></h2>")
        if phase.note:
            parts.append(f"<p>{e(phase.note)}</p>")
        listed = _listed(phase)
        if listed:
            parts.append("<table><tr><th>result</th><th>check</th><th>what it found</th></tr>")
            parts += [f"<tr><td class='{_css(case.outcome.value)}'>{e(case.outcome.value)}</td><td>{e(case.name)}</td>"
                      f"<td>{e(case.message)}</td></tr>" for case in listed]
            parts.append("</table>")
        if phase.warnings:
            parts.append("<p>Warnings:</p><ul>" + "".join(f"<li>{e(w)}</li>" for w in phase.warnings) + "</ul>")
    parts.append("<p>The full output of every phase is in the run's log, <code>validation.log</code>.</p>"
                 "</body></html>\n")
    return "".join(parts)


def _css(status: str) -> str:
    return status.split()[0]


def write_reports(record: RunRecord, folder: Path) -> None:
    for name, text in ((REPORT_MD, markdown(record)), (REPORT_HTML, html_page(record))):
        tmp = folder / (name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(folder / name)
