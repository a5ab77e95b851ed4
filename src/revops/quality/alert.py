"""The alert the data engineers on call get when the gate blocks a report.

:func:`build_alert` turns a failed :class:`~revops.quality.gate.GateResult` into an e-mail
(plain text and a simple HTML table): which expectations failed on which tables, what was
observed against what was expected, the Data Docs page of each, which report was held back,
and what to do next. Sending it is the caller's (``revops.reports.publish``), over the same
SMTP settings as the report.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from revops.quality.gate import Failure, GateResult


def docs_link(path: str | Path, docs_dir: Path, base_url: str | None) -> str:
    """``path`` (inside ``docs_dir``) as a URL under ``base_url``; the path itself without one."""
    text = str(path)
    if not base_url or not text:
        return text
    try:
        relative = Path(text).resolve().relative_to(Path(docs_dir).resolve())
    except ValueError:
        return text
    return f"{base_url.rstrip('/')}/{relative.as_posix()}"


def alert_subject(result: GateResult, periods: Sequence[Any]) -> str:
    """``revops quality gate FAILED for weekly 2026-W46: 2 blocking failures (tables)``."""
    what = ", ".join(f"{p.edition} {p.label}" for p in periods) or "the report"
    tables = ", ".join(result.failed_tables[:3])
    more = f" and {len(result.failed_tables) - 3} more" if len(result.failed_tables) > 3 else ""
    count = len(result.blocking)
    return (
        f"revops quality gate FAILED for {what}: {count} blocking "
        f"failure{'s' if count != 1 else ''} ({tables}{more})"
    )


def held_reports(periods: Sequence[Any]) -> str:
    """What the failed gate held back, as the alert says it: ``the weekly report 2026-W46
    was`` (``... and the monthly report 2026-11 were``; ``the report was`` without periods)."""
    names = [f"the {p.edition} report {p.label}" for p in periods] or ["the report"]
    return f"{' and '.join(names)} {'was' if len(names) == 1 else 'were'}"


def _describe(failure: Failure, docs_dir: Path, base_url: str | None) -> list[str]:
    lines = [
        f"{failure.table}: {failure.check}",
        f"   expectation: {failure.expectation_type} on {failure.column}",
        f"   observed:    {failure.observed}",
        f"   expected:    {failure.expected}",
    ]
    if failure.docs_page:
        lines.append(f"   Data Docs:   {docs_link(failure.docs_page, docs_dir, base_url)}")
    return lines


def alert_text(
    result: GateResult,
    periods: Sequence[Any],
    run_key: str,
    base_url: str | None = None,
) -> str:
    """The plain-text alert: every failure with observed vs expected and its Data Docs page."""
    docs_dir = result.docs_index.parent
    held = held_reports(periods)
    lines = [
        f"The revops quality gate failed (judged as of {result.as_of or 'now'}, run key "
        f"{run_key}). {held[0].upper()}{held[1:]} NOT sent.",
        "",
        f"{len(result.blocking)} blocking failure(s) on: {', '.join(result.failed_tables)}",
        "",
    ]
    for i, failure in enumerate(result.blocking, 1):
        first, *rest = _describe(failure, docs_dir, base_url)
        lines += [f"{i}. {first}", *rest, ""]
    if result.warnings:
        lines += [f"{len(result.warnings)} warning(s) (these alone would not stop the report):"]
        for failure in result.warnings:
            lines += [f"- {failure.table}: {failure.check}: {failure.observed}"]
        lines.append("")
    if result.skipped:
        lines += [f"Not run because a mart they read is missing: {', '.join(result.skipped)}", ""]
    lines += [
        f"Data Docs (every check of this run): {docs_link(result.docs_index, docs_dir, base_url)}",
        "",
        "What next: fix the data or the pipeline step that produced it, then rerun the "
        "publish DAG's check_quality task (or `revops gate --period "
        f"{periods[0].label if periods else '<period>'}` outside Airflow). When the gate "
        "passes, the report is sent once.",
    ]
    return "\n".join(lines) + "\n"


_TD = (
    "font-family:Arial,Helvetica,sans-serif;font-size:13px;padding:6px 8px;"
    "border-bottom:1px solid #e5e8ec;vertical-align:top;text-align:left;"
)


def alert_html(
    result: GateResult,
    periods: Sequence[Any],
    run_key: str,
    base_url: str | None = None,
) -> str:
    """The same alert as an HTML table (inline styles only, as mail clients need)."""
    docs_dir = result.docs_index.parent
    esc = html.escape
    rows = []
    for failure in result.failures:
        page = docs_link(failure.docs_page, docs_dir, base_url) if failure.docs_page else ""
        link = f'<a href="{esc(page)}">Data Docs</a>' if page else ""
        colour = "#b42318" if failure.severity == "blocking" else "#8a5a00"
        rows.append(
            "<tr>"
            f'<td style="{_TD}color:{colour};font-weight:bold;">{esc(failure.severity)}</td>'
            f'<td style="{_TD}">{esc(failure.table)}<br><span style="color:#4a5563;">'
            f"{esc(failure.check)}</span></td>"
            f'<td style="{_TD}">{esc(failure.observed)}</td>'
            f'<td style="{_TD}">{esc(failure.expected)}</td>'
            f'<td style="{_TD}">{link}</td>'
            "</tr>"
        )
    head = "".join(
        f'<th style="{_TD}color:#4a5563;border-bottom:2px solid #c8ced6;">{h}</th>'
        for h in ("severity", "table / check", "observed", "expected", "")
    )
    held = held_reports(periods)
    index = docs_link(result.docs_index, docs_dir, base_url)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(alert_subject(result, periods))}</title></head>"
        '<body style="margin:0;padding:16px;background-color:#ffffff;">'
        f'<p style="{_TD}border:0;font-size:15px;"><strong>The quality gate failed; '
        f"{esc(held)} not sent.</strong><br>Judged as of {esc(result.as_of or 'now')}, "
        f"run key {esc(run_key)}.</p>"
        '<table role="presentation" cellpadding="0" cellspacing="0" border="0" width="100%">'
        f"<tr>{head}</tr>{''.join(rows)}</table>"
        f'<p style="{_TD}border:0;">Data Docs for every check of this run: '
        f'<a href="{esc(index)}">{esc(index)}</a></p>'
        f'<p style="{_TD}border:0;color:#4a5563;">Fix the data, then rerun the check_quality '
        "task; the report is sent once when the gate passes.</p></body></html>"
    )


def build_alert(
    result: GateResult,
    periods: Sequence[Any],
    run_key: str,
    sender: str,
    recipients: Sequence[str],
    base_url: str | None = None,
) -> EmailMessage:
    """The alert e-mail (text and HTML alternatives) for a failed gate ``result``."""
    message = EmailMessage()
    message["Subject"] = alert_subject(result, periods)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "revops.local"
    message["Message-ID"] = make_msgid("revops-gate", domain=domain)
    message["X-Revops-Run-Key"] = run_key
    message["X-Priority"] = "1"
    message.set_content(alert_text(result, periods, run_key, base_url), cte="quoted-printable")
    message.add_alternative(
        alert_html(result, periods, run_key, base_url), subtype="html", cte="quoted-printable"
    )
    return message
