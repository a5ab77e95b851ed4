"""What the engineers on call (``REVOPS_ALERT_RECIPIENTS``) hear from Airflow, the same day.

- :func:`task_failure_alert` (every task's ``on_failure_callback``, through the DAGs' shared
  ``default_args``): a task failed for good (its retries used up). The e-mail names the DAG, the
  task, the run, the try, the error's line and a link to the task's log in the Airflow UI.
- :func:`dag_failure_alert` (every DAG's ``on_failure_callback``): a DAG run failed without a
  failed task to tell it, e.g. it ran past ``dagrun_timeout``.
- :func:`report_late_alert` (the deadline alert of ``revops_transform`` and ``revops_publish``):
  a run has not finished by its deadline, so the report is late; the run carries on.

Mail goes over the report's SMTP settings (``REVOPS_SMTP_*`` or the Airflow connection
``revops_smtp``), like the quality gate's alert. A callback never raises: an alert that cannot
be sent is logged, and the task's own failure stays what Airflow records. A failed quality
gate (``GateFailed``) is left to the gate's own alert, which names every failed check.

Imported when DAG files are parsed: the mail code is imported only when an alert is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://localhost:8080/"
"""Airflow's own fallback for ``[api] base_url``."""
_SKIPPED_ERRORS = {"GateFailed"}


def error_line(error: BaseException | str | None) -> str:
    """The error's last line, ``Type: message``, secrets masked: the same line
    ``revops_meta.extract_runs`` records (:func:`revops.sources.runlog.error_line`)."""
    if error is None:
        return "no exception was recorded (see the log)"
    from revops.sources.runlog import error_line as last_line

    return last_line(error)


def log_url(
    base_url: str,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None = -1,
    try_number: int | None = None,
) -> str:
    """The task instance's log page in the Airflow UI, built as Airflow 3.3 builds
    ``TaskInstance.log_url`` (``[api] base_url`` + ``/dags/<dag>/runs/<run>/tasks/<task>``)."""
    mapped = f"/mapped/{map_index}" if map_index is not None and map_index >= 0 else ""
    attempt = f"?try_number={try_number}" if try_number else ""
    return (
        f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/dags/{dag_id}/runs/{quote(run_id)}"
        f"/tasks/{task_id}{mapped}{attempt}"
    )


def failure_text(
    dag_id: str,
    task_id: str,
    run_id: str,
    try_number: int | None,
    tries: int | None,
    error: str,
    link: str,
) -> tuple[str, str]:
    """The subject and body of a task failure alert."""
    attempt = f"try {try_number} of {tries}" if try_number and tries else f"try {try_number}"
    subject = f"revops: {dag_id}.{task_id} failed ({attempt}): {error}"
    if len(subject) > 200:
        subject = subject[:197] + "..."
    body = "\n".join(
        [
            f"The Airflow task {task_id} of the DAG {dag_id} failed; its retries are used up.",
            "",
            f"DAG:    {dag_id}",
            f"Task:   {task_id}",
            f"Run:    {run_id}",
            f"Try:    {attempt}",
            f"Error:  {error}",
            f"Log:    {link}",
            "",
            "What next: read the log, fix the cause (a vendor down, a credential, the data), then "
            f"clear the task in the Airflow UI or run `airflow tasks clear {dag_id} -t "
            f"'^{task_id}$'`. Extracts and dbt builds are safe to rerun; the report is sent once.",
        ]
    )
    return subject, body + "\n"


def run_failure_text(dag_id: str, run_id: str, reason: str, link: str) -> tuple[str, str]:
    """The subject and body of a DAG run failure alert (a timeout, a deadlock)."""
    why = {
        "timed_out": "it ran past its dagrun_timeout (REVOPS_DAGRUN_TIMEOUT_HOURS)",
        "all_tasks_deadlocked": "its tasks were deadlocked (nothing could be scheduled)",
    }.get(reason, reason or "no reason recorded")
    subject = f"revops: DAG run {dag_id} failed: {why}"
    body = (
        f"The Airflow DAG run {run_id} of {dag_id} failed: {why}.\n\nRun: {link}\n\n"
        "What next: look at the run's tasks in the UI (the one still running or queued when it "
        "stopped), fix the cause, then clear the run.\n"
    )
    return subject, body


def late_text(dag_id: str, run_id: str, queued_at: str, deadline: str, hours: float | None):
    """The subject and body of a deadline alert: the report is late."""
    limit = f" ({hours:g} h after it was queued, REVOPS_REPORT_DEADLINE_HOURS)" if hours else ""
    subject = f"revops: the report is late: {dag_id} run not finished by {deadline}"
    body = (
        f"The Airflow DAG run {run_id} of {dag_id}, queued at {queued_at}, had not finished by "
        f"its deadline {deadline}{limit}. The leadership report waits for it.\n\n"
        "It is still running (or queued): look at it in the Airflow UI; a slow vendor or a "
        "long dbt build is the usual cause. When it finishes the report is sent as usual.\n"
    )
    return subject, body


def alert_message(
    subject: str, body: str, sender: str, recipients: Sequence[str], kind: str
) -> EmailMessage:
    """A plain-text alert e-mail."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "revops.local"
    message["Message-ID"] = make_msgid(f"revops-{kind}", domain=domain)
    message["X-Priority"] = "1"
    message.set_content(body)
    return message


def send_alert(
    subject: str, body: str, kind: str, environ: Mapping[str, str] | None = None
) -> bool:
    """E-mail an alert to ``REVOPS_ALERT_RECIPIENTS``; False (logged) when it cannot be sent."""
    try:
        from revops.reports.send import ALERT_RECIPIENTS_ENV, SmtpSettings, deliver, smtp_environ
        from revops.settings import source

        env = smtp_environ() if environ is None else dict(environ)
        if source("alert_recipients", env) == "default":
            log.error("%s is not set: alert not sent: %s", ALERT_RECIPIENTS_ENV, subject)
            return False
        settings = SmtpSettings.from_env(env, alerts=True)
        message = alert_message(subject, body, settings.sender, settings.recipients, kind)
        deliver(message, settings, what=f"the {kind} alert")
    except Exception as err:  # an alert must never fail the callback that sends it
        log.error("alert not sent (%s): %s", err, subject)
        return False
    log.info("alert sent: %s", subject)
    return True


def _base_url() -> str:
    try:
        from airflow.sdk import conf

        return conf.get("api", "base_url", fallback=DEFAULT_BASE_URL) or DEFAULT_BASE_URL
    except Exception:
        return DEFAULT_BASE_URL


def task_failure_alert(context: Mapping[str, Any]) -> None:
    """``on_failure_callback`` of every task: e-mail the on-call list. Never raises."""
    try:
        error = context.get("exception")
        if type(error).__name__ in _SKIPPED_ERRORS:
            log.info("the quality gate sent its own alert; no task failure alert")
            return
        ti = context["ti"]
        max_tries = getattr(ti, "max_tries", None)
        link = getattr(ti, "log_url", None)
        if not isinstance(link, str):
            link = log_url(
                _base_url(), ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number
            )
        subject, body = failure_text(
            ti.dag_id,
            ti.task_id,
            ti.run_id,
            ti.try_number,
            max_tries + 1 if isinstance(max_tries, int) else None,
            error_line(error),
            link,
        )
        send_alert(subject, body, "task-failure")
    except Exception:
        log.exception("the task failure alert could not be prepared")


def dag_failure_alert(context: Mapping[str, Any]) -> None:
    """``on_failure_callback`` of every DAG: alert when a run failed for another reason than a
    failed task (which alerts itself), e.g. a timeout. Never raises."""
    try:
        reason = str(context.get("reason") or "")
        if reason == "task_failure":
            return
        dag = context.get("dag")
        dag_id = getattr(dag, "dag_id", None) or "?"
        run_id = str(context.get("run_id") or "?")
        link = f"{_base_url().rstrip('/')}/dags/{dag_id}/runs/{quote(run_id)}"
        subject, body = run_failure_text(dag_id, run_id, reason, link)
        send_alert(subject, body, "run-failure")
    except Exception:
        log.exception("the DAG run failure alert could not be prepared")


def report_late_alert(context: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
    """Deadline alert callback (runs on an executor): the run, so the report, is late."""
    try:
        context = context or {}
        run = context.get("dag_run") or {}
        deadline = context.get("deadline") or {}
        subject, body = late_text(
            str(run.get("dag_id") or "?"),
            str(run.get("dag_run_id") or run.get("run_id") or "?"),
            str(run.get("queued_at") or "?"),
            str(deadline.get("deadline_time") or "?"),
            kwargs.get("deadline_hours"),
        )
        send_alert(subject, body, "deadline")
    except Exception:
        log.exception("the deadline alert could not be prepared")
