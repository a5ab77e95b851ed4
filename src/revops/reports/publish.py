"""Publishing: the quality gate decides, then either the on-call engineers get an alert or
leadership gets the report. What the publish DAG's two tasks (and ``revops gate`` /
``revops report send``) call.

- :func:`check_and_record` runs the gate (raw layer and marts) for the report periods due,
  records the run in ``revops_meta.gate_runs`` for each period, and when a blocking expectation
  failed, e-mails the alert (``REVOPS_ALERT_RECIPIENTS``) naming every failure with observed vs
  expected and its Data Docs page. The caller raises ``GateFailed`` (``require_pass``) so the
  DAG run fails with the same message.
- :func:`check_and_record` records the run as ``running`` with the fingerprint of the marts
  before anything is checked, compares the fingerprint again at the end (a change while it ran
  fails the run, naming the tables) and marks the run ``crashed`` when the gate raises.
- :func:`publish` sends each period's edition once per run key; ``send_report`` itself refuses
  a period unless its newest gate run passed over exactly the data being sent. A gate that
  failed and passes on a rerun of the same DAG run publishes once: the failed run sent nothing,
  the passing one sends, a retry finds the send recorded.
- :func:`run_key_for`: the run key of a DAG run. Scheduled and asset-triggered runs share one
  key, so each edition of a period is published once however many daily runs follow; a manual
  run (``make demo``, a deliberate resend) has its own.
- :func:`send_decision`: backfills don't e-mail leadership. A publish run reports on the
  periods due at its own moment (the current ones); an asset-triggered run whose ``marts``
  updates all came from transform runs fed only by backfill extracts (:func:`marts_event_extra`
  marks them) sends nothing. The explicit way to send after a backfill is a manual run of
  ``revops_publish``, which always sends (under its own run key).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from revops.reports.periods import Period

if TYPE_CHECKING:
    from revops.quality.gate import GateResult
    from revops.quality.suites import GateConfig
    from revops.reports.send import SendResult, SmtpSettings

log = logging.getLogger(__name__)

SCHEDULED_RUN_KEY = "scheduled"
_SCHEDULED_RUN_TYPES = {"scheduled", "asset_triggered", "dataset_triggered"}


def run_key_for(dag_id: str, run_id: str, run_type: str | None) -> str:
    """The run key a DAG run publishes under: ``scheduled`` for scheduled and asset-triggered
    runs (one publication per edition and period), ``<dag_id>/<run_id>`` for manual runs."""
    kind = str(getattr(run_type, "value", run_type) or "").lower()
    if kind in _SCHEDULED_RUN_TYPES:
        return SCHEDULED_RUN_KEY
    return f"{dag_id}/{run_id}"


def marts_event_extra(raw_events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``marts`` asset event's extra, from the extra of the ``raw_<system>`` events that
    triggered the transform run: ``backfill`` is True only when there were some and every one
    came from a backfill run (a daily or manual transform run is never a backfill)."""
    backfills = [bool(extra.get("backfill")) for extra in raw_events]
    return {
        "backfill": bool(backfills) and all(backfills),
        "raw_events": len(backfills),
        "backfill_events": sum(backfills),
    }


def send_decision(
    run_type: str | None, marts_events: Sequence[Mapping[str, Any]]
) -> tuple[bool, str]:
    """Whether a publish run sends the report, and why (for the task log).

    A manual run always sends: it is the explicit flag. Any other run sends unless every
    ``marts`` event that triggered it is marked ``backfill`` (:func:`marts_event_extra`).
    """
    kind = str(getattr(run_type, "value", run_type) or "").lower()
    if kind == "manual":
        return True, "a manual run always sends (the explicit way to publish after a backfill)"
    if marts_events and all(bool(extra.get("backfill")) for extra in marts_events):
        return False, (
            f"every marts update that triggered this run ({len(marts_events)}) was built from "
            "backfill extracts only: backfills don't e-mail leadership. Trigger revops_publish "
            "by hand to send the report for the current period."
        )
    return True, "fresh data: the report for the current period is sent (once per period)"


@dataclass
class GateOutcome:
    """One gate run: its result, the ``gate_runs`` rows written, and the alert."""

    result: GateResult
    gate_run_ids: list[int]
    alerted_to: tuple[str, ...] = ()
    alert_error: str | None = None
    alert_message_id: str | None = None
    periods: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for XCom and ``revops gate --json``)."""
        return {
            **self.result.to_dict(),
            "gate_run_ids": list(self.gate_run_ids),
            "alerted_to": list(self.alerted_to),
            "alert_error": self.alert_error,
        }


def _alert_settings(environ: Mapping[str, str]) -> SmtpSettings | None:
    from revops.reports.send import SmtpSettings
    from revops.settings import source

    if source("alert_recipients", environ) == "default":  # REVOPS_ALERT_RECIPIENTS unset
        return None
    return SmtpSettings.from_env(environ, alerts=True)


def _changed_while_running(result: GateResult, changed: Sequence[Any]) -> GateResult:
    """``result`` failed with one blocking failure naming what changed during the run: its
    checks read data that is no longer there, so its pass (or failure) is about nothing."""
    from dataclasses import replace

    from revops.quality.gate import Failure

    tables = ", ".join(c.table for c in changed)
    failure = Failure(
        table=tables,
        expectation_type="data_unchanged_while_checked",
        column="(table)",
        severity="blocking",
        observed=f"the marts changed while the gate ran: {'; '.join(str(c) for c in changed)}",
        expected="the data the report reads unchanged from the gate's start to its end; "
        "rerun the gate once the transform (or whatever changed it) is done",
        check="marts.unchanged_while_gate_ran",
    )
    return replace(result, passed=False, failures=[failure, *result.failures])


def _record_crash(url: str, gate_run_ids: Sequence[int], err: BaseException) -> None:
    """Mark the gate's rows ``crashed`` with ``err`` (password scrubbed); never masks ``err``."""
    from revops.quality.runs import crash_gate_runs
    from revops.warehouse import connect

    try:
        from revops.quality.gate import _Scrubber

        text = _Scrubber(url)(f"{type(err).__name__}: {err}".strip())[:2000]
        with connect(url) as conn:
            crash_gate_runs(conn, gate_run_ids, text)
    except Exception as recording:  # the warehouse is gone too: the rows stay 'running'
        log.error(
            "the gate crashed (%s) and marking gate runs %s crashed failed too: %s; they stay "
            "'running', which never counts as a pass",
            type(err).__name__,
            ", ".join(map(str, gate_run_ids)),
            type(recording).__name__,
        )


def check_and_record(
    periods: Sequence[Period],
    run_key: str,
    *,
    warehouse_url: str | None = None,
    docs_dir: Path | None = None,
    as_of: datetime | None = None,
    config: GateConfig | None = None,
    alert: bool = True,
    environ: Mapping[str, str] | None = None,
) -> GateOutcome:
    """Run the gate for ``periods`` (as of ``as_of``), record it, alert on a blocking failure.

    Does not raise on a failed gate: the caller decides (``require_pass(outcome.result)``).
    An alert that cannot be sent (no ``REVOPS_ALERT_RECIPIENTS``, SMTP down) is logged and
    recorded in ``gate_runs.alert_error``; it never hides the gate's own failure.
    """
    from revops.config import out_dir
    from revops.quality.alert import build_alert
    from revops.quality.gate import run_gate
    from revops.quality.runs import (
        begin_gate_runs,
        changed_since,
        finish_gate_runs,
        record_alert,
    )
    from revops.reports.send import SmtpConfigError, deliver, smtp_environ
    from revops.settings import load
    from revops.warehouse import connect
    from revops.warehouse import warehouse_url as default_url

    if not periods:
        raise ValueError("check_and_record needs at least one report period")
    url = warehouse_url or default_url()
    with connect(url) as conn:
        start = begin_gate_runs(conn, periods, run_key)
    ids = start.gate_run_ids
    try:
        result = run_gate(
            url, docs_dir or out_dir() / "data_docs", config, periods=periods, as_of=as_of
        )
        with connect(url) as conn:
            changed = changed_since(conn, start)
            if changed:
                result = _changed_while_running(result, changed)
            finish_gate_runs(conn, ids, result)
    except BaseException as err:
        _record_crash(url, ids, err)
        raise
    outcome = GateOutcome(result, ids, periods=[p.label for p in periods])
    log.info("quality gate for %s:\n%s", ", ".join(outcome.periods), result.summary())
    if result.passed or not alert:
        return outcome
    env = smtp_environ() if environ is None else dict(environ)
    try:
        settings = _alert_settings(env)
        if settings is None:
            outcome.alert_error = "no alert sent: REVOPS_ALERT_RECIPIENTS is not set"
        else:
            message = build_alert(
                result,
                periods,
                run_key,
                settings.sender,
                settings.recipients,
                load(env).data_docs_url,  # REVOPS_DATA_DOCS_URL
            )
            refused = deliver(message, settings, what="the quality gate alert")
            outcome.alerted_to = tuple(r for r in settings.recipients if r not in refused)
            if refused:
                outcome.alert_error = "the SMTP server refused " + "; ".join(
                    f"{addr} ({why})" for addr, why in refused.items()
                )
            outcome.alert_message_id = str(message["Message-ID"])
    except (SmtpConfigError, RuntimeError) as err:
        outcome.alert_error = f"the alert could not be sent: {err}"
    if outcome.alert_error:
        log.error("quality gate alert: %s", outcome.alert_error)
    with connect(url) as conn:
        record_alert(conn, ids, outcome.alerted_to or None, outcome.alert_error)
    return outcome


def publish(
    periods: Sequence[Period],
    run_key: str,
    *,
    warehouse_url: str | None = None,
    out: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[SendResult]:
    """Send each period's edition once per ``run_key``: refused (``GateNotPassed``) unless the
    period's newest gate run passed over exactly the data being sent. Each result names who got
    it and who the SMTP server refused (a call with the same run key sends to those only)."""
    from revops.config import out_dir
    from revops.reports.send import SmtpSettings, send_report, smtp_environ
    from revops.warehouse import connect

    env = smtp_environ() if environ is None else dict(environ)
    results = []
    with connect(warehouse_url) as conn:
        for period in periods:
            settings = SmtpSettings.from_env(env, edition=period.edition)
            result = send_report(conn, period, settings, run_key, out or out_dir())
            if result.already_sent:
                state = "already sent for this run key"
            else:
                state = f"sent under gate run {result.gate_run_id}; delivered to " + (
                    ", ".join(result.delivered_to) or "nobody"
                )
            if result.refused:
                state += "; refused by the SMTP server: " + "; ".join(
                    f"{addr} ({why})" for addr, why in result.refused.items()
                )
            log.info("%s report %s: %s", period.edition, period.label, state)
            results.append(result)
    return results


def result_dict(result: SendResult) -> dict[str, Any]:
    """A send result as JSON-ready data (for XCom and the CLI)."""
    return {
        "edition": result.edition,
        "period": result.period,
        "run_key": result.run_key,
        "message_id": result.message_id,
        "recipients": list(result.recipients),
        "sent_at": result.sent_at.isoformat() if result.sent_at else None,
        "already_sent": result.already_sent,
        "html_path": str(result.html_path),
        "pdf_path": str(result.pdf_path) if result.pdf_path else None,
        "attachments": list(result.attachments),
        "delivered_to": list(result.delivered_to),
        "refused": dict(result.refused),
        "gate_run_id": result.gate_run_id,
        "fingerprint_digest": result.fingerprint_digest,
    }
