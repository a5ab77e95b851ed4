"""Sending the leadership report: the MIME message, SMTP settings, and exactly-once delivery.

:func:`send_report` sends a period only when the data it renders is the data a passing gate
run checked (see "What is sent is what passed" below), archives the report under
``out/reports/<edition>/<label>.html`` and ``.pdf`` (files 0600 in 0700 folders: they hold the
report's numbers) and e-mails it over SMTP, once per ``(edition, period label, run_key)``. A run
key names one publication: the scheduled runs of the publish DAG share one (so a daily run never
re-sends a period already sent), a manual run has its own, so a deliberate rerun sends a new
copy.

The e-mail (:func:`build_message`)::

    multipart/mixed
      multipart/alternative
        text/plain                      the same numbers in fixed columns
        multipart/related
          text/html                     inline CSS, tables for layout
          image/png (inline, Content-ID) one per chart, referenced as cid:
      application/pdf (attachment)      the same report, A4
      text/csv (attachment)             one per table

What is sent is what passed. The send runs in ONE transaction at REPEATABLE READ, so the
fingerprint of the marts (``revops.quality.fingerprint``), the gate run it is compared with and
every number of the rendered report come from the same snapshot. The newest gate run of the
period (by start: the newest data decides) must have passed with the same fingerprint; anything
else (a mart changed since, a newer run that failed, crashed or is still running) raises
``GateNotPassed`` naming what changed. The ``report_sends`` row records the gate run and the
fingerprint digest it was sent under.

How "exactly once" is kept (``revops_meta.report_sends``, one row per publication, unique on
``(edition, period, run_key)``):

1. Outside any lock, a committed row for the key whose recipients all got it means the e-mail
   went out: return it (``already_sent=True``) without rendering or sending.
2. Otherwise take a session advisory lock for ``(edition, period)`` (taken before the send's
   transaction starts, so its snapshot sees everything committed by the sender it waited for),
   and in the REPEATABLE READ transaction read the row again, check the gate, render, insert the
   row with ``sent_at`` null, send over SMTP, set ``sent_at`` and commit.
3. A partial SMTP refusal (some recipients refused, ``smtplib`` returns them) records who got
   it (``delivered_to``) and who was refused and why (``refused``); the result and the log name
   them. A later call with the same run key sends to the refused ones only (same Message-ID),
   under the same gate check.

A crash, an SMTP error or a lost warehouse connection before the commit rolls the row back,
so the key stays retryable and the next call sends. The one window this cannot close is a
crash after the SMTP server accepted the message and before the commit: the retry then sends a
second copy (at-least-once in that window, never zero). We chose this over committing a
"sending" row first because such a row cannot tell a crashed sender from a live one without
extra machinery, and the window is a few milliseconds.

SMTP settings come from the environment (``REVOPS_SMTP_*``), or from an Airflow connection
(``revops_smtp``) inside Airflow, the environment winning. The SMTP password is never printed:
:class:`SmtpSettings` hides it in ``repr``/``str``, and error messages are scrubbed of it.
"""

from __future__ import annotations

import base64
import logging
import os
import smtplib
import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

from revops.config import private_dir, write_private
from revops.quality.fingerprint import data_fingerprint
from revops.quality.runs import (
    GateRun,
    ensure_meta_table,
    latest_gate_run,
    require_gate_current,
)
from revops.reports.periods import Period
from revops.reports.render import RenderedReport, build_report, render_report
from revops.settings import ConfigError

log = logging.getLogger(__name__)

HOST_ENV = "REVOPS_SMTP_HOST"
PORT_ENV = "REVOPS_SMTP_PORT"
USER_ENV = "REVOPS_SMTP_USER"
PASSWORD_ENV = "REVOPS_SMTP_PASSWORD"
STARTTLS_ENV = "REVOPS_SMTP_STARTTLS"
SSL_ENV = "REVOPS_SMTP_SSL"
CA_FILE_ENV = "REVOPS_SMTP_CA_FILE"
SENDER_ENV = "REVOPS_REPORT_SENDER"
RECIPIENTS_ENV = "REVOPS_REPORT_RECIPIENTS"
ALERT_SENDER_ENV = "REVOPS_ALERT_SENDER"
ALERT_RECIPIENTS_ENV = "REVOPS_ALERT_RECIPIENTS"
AIRFLOW_CONNECTION = "revops_smtp"
"""The Airflow connection the SMTP settings may come from (host, port, login, password;
extras ``starttls``, ``ssl``, ``ca_file``, ``sender``, ``recipients``, ``alert_recipients``)."""

SENDS_TABLE = "revops_meta.report_sends"
_HIDDEN = "***"


class SmtpConfigError(ConfigError):
    """The SMTP settings in the environment are missing or invalid; the variable is named."""


class ReportSendError(RuntimeError):
    """The report could not be sent (or its sending not recorded); the message says why."""


# -- settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how the report is sent. ``repr``/``str`` never show the password."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    timeout: float = 30.0
    ca_file: str | None = None
    """A CA bundle to verify the server's certificate with (a private relay); None: the
    system's trusted CAs."""

    def __repr__(self) -> str:
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, sender={self.sender!r}, "
            f"recipients={self.recipients!r}, user={self.user!r}, "
            f"password={_HIDDEN if self.password else None!r}, starttls={self.starttls}, "
            f"ssl={self.ssl}, timeout={self.timeout}, ca_file={self.ca_file!r})"
        )

    __str__ = __repr__

    @property
    def address(self) -> str:
        """``host:port`` for messages."""
        return f"{self.host}:{self.port}"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        edition: str | None = None,
        alerts: bool = False,
    ) -> SmtpSettings:
        """Read the ``REVOPS_SMTP_*`` and ``REVOPS_REPORT_*`` variables (``os.environ`` default).

        Required: ``REVOPS_SMTP_HOST``, ``REVOPS_REPORT_SENDER``, ``REVOPS_REPORT_RECIPIENTS``
        (comma-separated; ``REVOPS_REPORT_RECIPIENTS_WEEKLY``/``_MONTHLY`` override it for one
        ``edition``). With ``alerts``: recipients from ``REVOPS_ALERT_RECIPIENTS`` and the sender
        from ``REVOPS_ALERT_SENDER`` (default the report's). ``REVOPS_SMTP_PORT`` defaults to 465
        with SSL, 587 with STARTTLS, 25 otherwise; ``REVOPS_SMTP_USER`` and
        ``REVOPS_SMTP_PASSWORD`` go together; ``REVOPS_SMTP_CA_FILE`` names a CA bundle.
        Raises :class:`SmtpConfigError` naming the variable at fault (each value is typed and
        checked by :mod:`revops.settings`; what sending needs on top is checked here).
        """
        from revops.settings import load

        try:
            s = load(environ)
        except ConfigError as err:
            raise SmtpConfigError(str(err)) from None

        def required(name: str, value: Any, what: str) -> Any:
            if not value:
                raise SmtpConfigError(f"{name} is not set: it must name {what}")
            return value

        host = required(HOST_ENV, s.smtp_host, "the SMTP server host (e.g. smtp.example.com)")
        if s.smtp_ssl and s.smtp_starttls:
            raise SmtpConfigError(
                f"{SSL_ENV} and {STARTTLS_ENV} are both true: use SSL (implicit TLS, port 465) "
                "or STARTTLS (port 587), not both"
            )
        port = s.smtp_port or (465 if s.smtp_ssl else 587 if s.smtp_starttls else 25)
        user = s.smtp_user
        password = s.smtp_password.get_secret_value() if s.smtp_password else None
        if user and not password:
            raise SmtpConfigError(f"{USER_ENV} is set but {PASSWORD_ENV} is not")
        if password and not user:
            raise SmtpConfigError(f"{PASSWORD_ENV} is set but {USER_ENV} is not")
        if alerts:
            sender_env = ALERT_SENDER_ENV if s.alert_sender else SENDER_ENV
            sender, recipients_env = s.alert_sender or s.report_sender, ALERT_RECIPIENTS_ENV
            recipients = s.alert_recipients
            who = "the data engineers on call who receive the gate's alerts"
        else:
            override = getattr(s, f"report_recipients_{edition}", None) if edition else None
            sender_env, sender = SENDER_ENV, s.report_sender
            recipients_env = f"{RECIPIENTS_ENV}_{edition.upper()}" if override else RECIPIENTS_ENV
            recipients = override or s.report_recipients
            who = "who receives the report"
        required(sender_env, sender, "the From address of the report")
        required(recipients_env, recipients, who)
        ca_file = str(s.smtp_ca_file) if s.smtp_ca_file else None
        return cls(
            host,
            port,
            sender,
            tuple(recipients),
            user,
            password,
            s.smtp_starttls,
            s.smtp_ssl,
            ca_file=ca_file,
        )


def environ_from_connection(
    host: str | None,
    port: int | None,
    login: str | None,
    password: str | None,
    extra: Mapping[str, Any] | None,
) -> dict[str, str]:
    """The ``REVOPS_SMTP_*``/``REVOPS_*`` variables an Airflow SMTP connection stands for."""
    values: dict[str, str] = {}
    if host:
        values[HOST_ENV] = host
    if port:
        values[PORT_ENV] = str(port)
    if login:
        values[USER_ENV] = login
    if password:
        values[PASSWORD_ENV] = password
    names = {
        "starttls": STARTTLS_ENV,
        "ssl": SSL_ENV,
        "ca_file": CA_FILE_ENV,
        "sender": SENDER_ENV,
        "recipients": RECIPIENTS_ENV,
        "alert_sender": ALERT_SENDER_ENV,
        "alert_recipients": ALERT_RECIPIENTS_ENV,
    }
    for key, value in (extra or {}).items():
        name = names.get(str(key).lower())
        if name and value is not None:
            values[name] = ",".join(value) if isinstance(value, list | tuple) else str(value)
    return values


def smtp_environ(conn_id: str = AIRFLOW_CONNECTION) -> dict[str, str]:
    """The environment with the Airflow connection ``conn_id`` filled in underneath it (the
    environment wins); just the environment outside Airflow or without that connection."""
    env = dict(os.environ)
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception:  # no such connection, or not inside Airflow
        return env
    found = environ_from_connection(
        conn.host, conn.port, conn.login, conn.password, conn.extra_dejson or {}
    )
    return {**found, **env}


# -- the message ----------------------------------------------------------------------------


def subject_for(period: Period) -> str:
    """``revops weekly report 2026-W46``."""
    return f"revops {period.edition} report {period.label}"


def build_message(
    rendered: RenderedReport,
    period: Period,
    sender: str,
    recipients: Sequence[str],
    *,
    message_id: str | None = None,
) -> EmailMessage:
    """The e-mail: text and HTML alternatives (the HTML with its inline PNGs as a
    multipart/related), then the PDF and the CSVs as attachments (see the module docstring).

    Without images the HTML is a plain alternative; without PDF and CSVs the message is the
    multipart/alternative alone.
    """
    message = EmailMessage()
    message["Subject"] = subject_for(period)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id or make_msgid("revops", domain=_domain(sender))
    message.set_content(rendered.text, subtype="plain", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    html_part = message.get_payload()[1]
    for chart in rendered.charts or ():
        html_part.add_related(
            chart.png,
            maintype="image",
            subtype="png",
            cid=f"<{chart.cid}>",
            disposition="inline",
            filename=chart.filename,
        )
    known = {c.cid for c in rendered.charts or ()}
    for cid, png in rendered.images.items():
        if cid not in known:
            html_part.add_related(
                png,
                maintype="image",
                subtype="png",
                cid=f"<{cid}>",
                disposition="inline",
                filename=f"{cid.split('@', 1)[0]}.png",
            )
    if rendered.pdf:
        message.add_attachment(
            rendered.pdf, maintype="application", subtype="pdf", filename=rendered.pdf_filename
        )
    for name, text in rendered.csvs.items():
        message.add_attachment(text.encode("utf-8"), maintype="text", subtype="csv", filename=name)
    return message


def _domain(address: str) -> str:
    _, addr = parseaddr(address)
    return addr.rpartition("@")[2] or "revops.local"


def report_path(out_dir: Path, period: Period, suffix: str = ".html") -> Path:
    """Where a period's report is archived: ``reports/<edition>/<label>.html`` (or ``.pdf``)."""
    return Path(out_dir) / "reports" / period.edition / f"{period.label}{suffix}"


def self_contained_html(rendered: RenderedReport) -> str:
    """The HTML with each ``cid:`` image inlined as a ``data:`` URI, for viewing in a browser."""
    html = rendered.html
    for cid, png in rendered.images.items():
        data = base64.b64encode(png).decode("ascii")
        html = html.replace(f'src="cid:{cid}"', f'src="data:image/png;base64,{data}"')
    return html


def _private_folders(out_dir: Path, period: Period) -> None:
    """Create ``out_dir/reports/<edition>`` as 0700 folders (``out_dir`` too when revops
    creates it; an existing one chosen by the user keeps its mode)."""
    out_dir = Path(out_dir)
    if not out_dir.exists():
        private_dir(out_dir)
    private_dir(out_dir / "reports")
    private_dir(out_dir / "reports" / period.edition)


def save_html(rendered: RenderedReport, path: Path) -> Path:
    """Write :func:`self_contained_html` to ``path`` (atomically, 0600) and return the path."""
    return write_private(path, self_contained_html(rendered).encode("utf-8"))


@dataclass(frozen=True)
class Archived:
    """Where one edition was archived."""

    html_path: Path
    pdf_path: Path | None

    def __str__(self) -> str:
        return ", ".join(str(p) for p in (self.html_path, self.pdf_path) if p is not None)


def archive(rendered: RenderedReport, out_dir: Path, period: Period) -> Archived:
    """Save the self-contained HTML and the PDF under ``out_dir/reports/<edition>/`` (files
    0600, folders 0700: they hold the report's numbers)."""
    _private_folders(out_dir, period)
    html_path = save_html(rendered, report_path(out_dir, period))
    pdf_path = None
    if rendered.pdf:
        pdf_path = write_private(report_path(out_dir, period, ".pdf"), rendered.pdf)
    return Archived(html_path, pdf_path)


def gate_for_footer(conn: psycopg.Connection[Any], period: Period) -> GateRun | None:
    """The latest gate run of the period (its warnings go in the footer), if any."""
    with conn.transaction():
        return latest_gate_run(conn, period.edition, period.label)


def archive_report(conn: psycopg.Connection[Any], period: Period, out_dir: Path) -> Archived:
    """Render the report of ``period`` and archive its HTML and PDF without sending it."""
    gate = gate_for_footer(conn, period)
    return archive(render_report(build_report(conn, period), gate), out_dir, period)


def write_report(conn: psycopg.Connection[Any], period: Period, out_dir: Path) -> Path:
    """:func:`archive_report`, returning the HTML's path (kept for the first release's
    callers)."""
    return archive_report(conn, period, out_dir).html_path


# -- SMTP -----------------------------------------------------------------------------------


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, _HIDDEN) if secret else text


def deliver(
    message: EmailMessage,
    settings: SmtpSettings,
    what: str = "the report",
    to: Sequence[str] | None = None,
) -> dict[str, str]:
    """Hand ``message`` to the SMTP server (SSL or STARTTLS and login when configured) for
    ``to`` (default: ``settings.recipients``).

    Returns the recipients the server refused while accepting the message for the others, each
    with its reply (``{"b@example.com": "550 5.1.1 mailbox unavailable"}``); empty when all were
    accepted. Raises :class:`ReportSendError` (never showing the password) when the server
    refuses the message or every recipient.
    """
    recipients = list(to if to is not None else settings.recipients)
    context = ssl.create_default_context(cafile=settings.ca_file)
    client: smtplib.SMTP | None = None
    try:
        if settings.ssl:
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.starttls:
            client.starttls(context=context)
        if settings.user:
            client.login(settings.user, settings.password or "")
        refused = client.send_message(message, from_addr=settings.sender, to_addrs=recipients)
    except (smtplib.SMTPException, OSError) as err:
        detail = str(err) or type(err).__name__
        if isinstance(err, smtplib.SMTPRecipientsRefused):
            detail = "every recipient was refused: " + "; ".join(
                f"{addr}: {_reply(reply)}" for addr, reply in sorted(err.recipients.items())
            )
        who = f" as {settings.user}" if settings.user else ""
        leaked = bool(settings.password) and settings.password in repr(err.args)
        raise ReportSendError(
            _scrub(
                f"sending {what} via {settings.address}{who} failed: {detail}",
                settings.password,
            )
        ) from (None if leaked else err)
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    found = {addr: _reply(reply) for addr, reply in sorted((refused or {}).items())}
    for addr, reply in found.items():
        log.warning("%s: the SMTP server %s refused %s: %s", what, settings.address, addr, reply)
    return found


def _reply(reply: Any) -> str:
    """``550 5.1.1 mailbox unavailable`` from smtplib's ``(code, bytes)`` reply."""
    if isinstance(reply, tuple) and len(reply) == 2:
        code, text = reply
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return f"{code} {text}".strip()
    return str(reply)


# -- exactly once ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    """One publication as recorded in ``revops_meta.report_sends``."""

    edition: str
    period: str
    run_key: str
    message_id: str
    recipients: tuple[str, ...]
    """Who it is for (the configured recipients when it was first sent)."""
    subject: str
    sent_at: datetime
    already_sent: bool
    html_path: Path
    pdf_path: Path | None = None
    gate_run_id: int | None = None
    """The passing gate run the report was (last) sent under."""
    attachments: tuple[str, ...] = ()
    """The attached files' names (PDF, CSVs)."""
    delivered_to: tuple[str, ...] = ()
    """The recipients the SMTP server accepted it for, over every call with this run key."""
    refused: dict[str, str] = field(default_factory=dict)
    """The recipients still refused, each with the server's reply; a retry with the same run
    key sends to these only."""
    fingerprint_digest: str | None = None
    """The digest of the data the report was rendered from (equal to its gate run's)."""

    @property
    def outstanding(self) -> tuple[str, ...]:
        """The recipients who have not got it yet."""
        return tuple(r for r in self.recipients if r not in self.delivered_to)


_DDL = f"""
create table if not exists {SENDS_TABLE} (
    edition text not null,
    period text not null,
    run_key text not null,
    message_id text not null,
    recipients text[] not null,
    subject text not null,
    sent_at timestamptz,
    gate_run_id bigint,
    attachments text[],
    delivered_to text[],
    refused jsonb,
    fingerprint_digest text,
    primary key (edition, period, run_key)
)
"""

_COLUMNS = (
    "edition, period, run_key, message_id, recipients, subject, sent_at, gate_run_id, "
    "attachments, delivered_to, refused, fingerprint_digest"
)
_ADDED = {
    "gate_run_id": "bigint",
    "attachments": "text[]",
    "delivered_to": "text[]",
    "refused": "jsonb",
    "fingerprint_digest": "text",
}


def ensure_sends_table(conn: psycopg.Connection[Any]) -> None:
    """Create ``revops_meta.report_sends`` (and its schema) if missing; safe to run concurrently.

    ``sent_at`` is null only inside the transaction that is sending; committed rows are sent
    (to ``delivered_to``; a row from before that column was added counts as sent to all).
    """
    ensure_meta_table(
        conn,
        SENDS_TABLE,
        _DDL,
        _ADDED,  # a table from an earlier release gains them
        [
            f"comment on table {SENDS_TABLE} is 'One row per leadership report publication, "
            "unique per edition, period and run key: who got it, who was refused, the gate "
            "run and data fingerprint it was sent under (revops.reports.send).'"
        ],
    )


def _result(row: tuple[Any, ...], already_sent: bool, archived: Archived) -> SendResult:
    (
        edition,
        period,
        run_key,
        message_id,
        recipients,
        subject,
        sent_at,
        gate_id,
        files,
        delivered,
        refused,
        digest,
    ) = row
    return SendResult(
        edition,
        period,
        run_key,
        message_id,
        tuple(recipients),
        subject,
        sent_at,
        already_sent,
        archived.html_path,
        archived.pdf_path,
        gate_id,
        tuple(files or ()),
        tuple(recipients if delivered is None else delivered),
        dict(refused or {}),
        digest,
    )


def find_send(
    conn: psycopg.Connection[Any], period: Period, run_key: str
) -> tuple[Any, ...] | None:
    """The committed send record of ``(period, run_key)``, or None."""
    with conn.transaction():
        return conn.execute(
            f"select {_COLUMNS} from {SENDS_TABLE} "
            "where edition = %s and period = %s and run_key = %s and sent_at is not null",
            (period.edition, period.label, run_key),
        ).fetchone()


@contextmanager
def _period_lock(conn: psycopg.Connection[Any], period: Period) -> Iterator[None]:
    """Hold a session advisory lock on ``(edition, period)`` for the block: one sender of a
    period at a time. Taken in its own transaction, so the send's snapshot starts after it."""
    key = (SENDS_TABLE, f"{period.edition}/{period.label}")
    with conn.transaction():
        conn.execute("select pg_advisory_lock(hashtext(%s), hashtext(%s))", key)
    try:
        yield
    finally:
        try:
            with conn.transaction():
                conn.execute("select pg_advisory_unlock(hashtext(%s), hashtext(%s))", key)
        except psycopg.Error:  # the connection is gone, and the session lock with it
            pass


def send_report(
    conn: psycopg.Connection[Any],
    period: Period,
    settings: SmtpSettings,
    run_key: str,
    out_dir: Path,
) -> SendResult:
    """Render the report of ``period``, archive it, and e-mail it once per ``run_key``.

    Returns the send record; ``already_sent`` is True when an earlier call with the same
    edition, period and run key sent it to everyone (nothing is rendered or sent then); after a
    partial refusal, a call with the same run key sends to the refused recipients only. Raises
    :class:`~revops.quality.runs.GateNotPassed` unless the period's newest gate run passed over
    exactly the data being sent (nothing is sent or archived then). ``conn`` must have no
    transaction open: this function commits its own (see the module docstring).
    """
    if not run_key:
        raise ValueError("run_key must be a non-empty string naming the run (e.g. its run id)")
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError(
            "send_report commits its own transactions: pass a connection with no open "
            "transaction (commit or roll back first)"
        )
    expected = Archived(report_path(out_dir, period), report_path(out_dir, period, ".pdf"))
    ensure_sends_table(conn)
    earlier = find_send(conn, period, run_key)
    if earlier is not None and not _result(earlier, True, expected).outstanding:
        return _result(earlier, True, expected)
    with _period_lock(conn, period):
        return _send_locked(conn, period, settings, run_key, out_dir, expected)


def _send_locked(
    conn: psycopg.Connection[Any],
    period: Period,
    settings: SmtpSettings,
    run_key: str,
    out_dir: Path,
    expected: Archived,
) -> SendResult:
    key = (period.edition, period.label, run_key)
    delivered = False
    message_id = ""
    try:
        with conn.transaction():
            conn.execute("set transaction isolation level repeatable read")
            row = conn.execute(
                f"select {_COLUMNS} from {SENDS_TABLE} "
                "where edition = %s and period = %s and run_key = %s for update",
                key,
            ).fetchone()
            earlier = _result(row, True, expected) if row and row[6] is not None else None
            if earlier is not None and not earlier.outstanding:
                return earlier  # a concurrent caller sent it while this one waited
            current = data_fingerprint(conn)
            gate = require_gate_current(conn, period.edition, period.label, current)
            rendered = render_report(build_report(conn, period), gate)
            archived = archive(rendered, out_dir, period)
            files = [rendered.pdf_filename] if rendered.pdf else []
            files += list(rendered.csvs)
            if earlier is None:
                recipients, already = tuple(settings.recipients), ()
                message = build_message(rendered, period, settings.sender, recipients)
            else:  # a partial refusal before: the same message, to the others only
                recipients, already = earlier.recipients, earlier.delivered_to
                message = build_message(
                    rendered, period, settings.sender, recipients, message_id=earlier.message_id
                )
            message["X-Revops-Run-Key"] = run_key
            message_id, subject = str(message["Message-ID"]), str(message["Subject"])
            if row is None:
                conn.execute(
                    f"insert into {SENDS_TABLE} ({_COLUMNS}) "
                    "values (%s, %s, %s, %s, %s, %s, null, %s, %s, %s, null, %s)",
                    (
                        *key,
                        message_id,
                        list(recipients),
                        subject,
                        gate.gate_run_id,
                        files,
                        [],
                        current.digest,
                    ),
                )
            to = [r for r in recipients if r not in already]
            refused = deliver(message, settings, to=to)
            delivered = True
            now_delivered = [r for r in recipients if r in already or r not in refused]
            row = conn.execute(
                f"update {SENDS_TABLE} set message_id = %s, recipients = %s, subject = %s, "
                "sent_at = clock_timestamp(), gate_run_id = %s, attachments = %s, "
                "delivered_to = %s, refused = %s, fingerprint_digest = %s "
                "where edition = %s and period = %s and run_key = %s "
                f"returning {_COLUMNS}",
                (
                    message_id,
                    list(recipients),
                    subject,
                    gate.gate_run_id,
                    files,
                    now_delivered,
                    Jsonb(refused) if refused else None,
                    current.digest,
                    *key,
                ),
            ).fetchone()
    except psycopg.Error as err:
        if delivered:
            raise ReportSendError(
                f"the report {message_id} was sent but recording it in {SENDS_TABLE} "
                f"failed ({err}); a retry with run key {run_key!r} will send it again"
            ) from err
        raise
    if row is None:
        raise ReportSendError(
            f"the report {message_id} was sent but its {SENDS_TABLE} row for {key} vanished; "
            f"a retry with run key {run_key!r} will send it again"
        )
    result = _result(row, False, archived)
    log.info(
        "sent %s to %s (%s, gate run %s, data %s)",
        result.subject,
        ", ".join(to) or "nobody",
        message_id,
        gate.gate_run_id,
        current.digest[:12],
    )
    if result.refused:
        log.warning(
            "%s: not delivered to %s; a retry with run key %r sends to them only",
            result.subject,
            "; ".join(f"{a} ({why})" for a, why in result.refused.items()),
            run_key,
        )
    return result
