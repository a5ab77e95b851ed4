"""Sending the leadership report: the MIME message, SMTP settings, and exactly-once delivery.

:func:`send_report` renders the report, saves a self-contained copy of the HTML under
``out/reports/<edition>/<label>.html`` and e-mails it over SMTP, once per
``(edition, period label, run_key)``. A run key names one scheduled run (the Airflow run id):
retries of that run never send twice, a new run sends a new copy.

How "exactly once" is kept (``revops_meta.report_sends``, one row per sent e-mail, unique on
``(edition, period, run_key)``):

1. Outside any lock, a committed row for the key means the e-mail went out: return it
   (``already_sent=True``) without rendering or sending.
2. Otherwise render, then in one READ COMMITTED transaction insert the row with ``sent_at``
   null (``insert ... on conflict do nothing``, then ``select ... for update``). The row lock
   is held until commit, so a concurrent caller with the same key blocks on its own insert
   until this transaction ends, then finds the committed row and returns it.
3. Send over SMTP while holding the lock; on success set ``sent_at`` and commit.

A crash, an SMTP error or a lost warehouse connection before the commit rolls the row back,
so the key stays retryable and the next call sends. The one window this cannot close is a
crash after the SMTP server accepted the message and before the commit: the retry then sends a
second copy (at-least-once in that window, never zero). We chose this over committing a
"sending" row first because such a row cannot tell a crashed sender from a live one without
extra machinery (session advisory locks), and the window is a few milliseconds.

The SMTP password is never printed: :class:`SmtpSettings` hides it in ``repr``/``str``, and
error messages are scrubbed of it.
"""

from __future__ import annotations

import base64
import logging
import os
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from revops.reports.periods import Period
from revops.reports.render import RenderedReport, build_report, render_html

log = logging.getLogger(__name__)

HOST_ENV = "REVOPS_SMTP_HOST"
PORT_ENV = "REVOPS_SMTP_PORT"
USER_ENV = "REVOPS_SMTP_USER"
PASSWORD_ENV = "REVOPS_SMTP_PASSWORD"
STARTTLS_ENV = "REVOPS_SMTP_STARTTLS"
SSL_ENV = "REVOPS_SMTP_SSL"
SENDER_ENV = "REVOPS_REPORT_SENDER"
RECIPIENTS_ENV = "REVOPS_REPORT_RECIPIENTS"

SENDS_TABLE = "revops_meta.report_sends"
_HIDDEN = "***"
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


class SmtpConfigError(ValueError):
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

    def __repr__(self) -> str:
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, sender={self.sender!r}, "
            f"recipients={self.recipients!r}, user={self.user!r}, "
            f"password={_HIDDEN if self.password else None!r}, starttls={self.starttls}, "
            f"ssl={self.ssl}, timeout={self.timeout})"
        )

    __str__ = __repr__

    @property
    def address(self) -> str:
        """``host:port`` for messages."""
        return f"{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings:
        """Read the ``REVOPS_SMTP_*`` and ``REVOPS_REPORT_*`` variables (``os.environ`` default).

        Required: ``REVOPS_SMTP_HOST``, ``REVOPS_REPORT_SENDER``, ``REVOPS_REPORT_RECIPIENTS``
        (comma-separated). ``REVOPS_SMTP_PORT`` defaults to 465 with SSL, 587 with STARTTLS,
        25 otherwise; ``REVOPS_SMTP_USER`` and ``REVOPS_SMTP_PASSWORD`` go together.
        Raises :class:`SmtpConfigError` naming the variable at fault.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        def required(name: str, what: str) -> str:
            value = get(name)
            if not value:
                raise SmtpConfigError(f"{name} is not set: it must name {what}")
            return value

        host = required(HOST_ENV, "the SMTP server host (e.g. smtp.example.com)")
        use_ssl = _flag(SSL_ENV, get(SSL_ENV))
        starttls = _flag(STARTTLS_ENV, get(STARTTLS_ENV))
        if use_ssl and starttls:
            raise SmtpConfigError(
                f"{SSL_ENV} and {STARTTLS_ENV} are both true: use SSL (implicit TLS, port 465) "
                "or STARTTLS (port 587), not both"
            )
        port_text = get(PORT_ENV)
        if port_text:
            try:
                port = int(port_text)
            except ValueError:
                port = -1
            if not 0 < port < 65536:
                raise SmtpConfigError(f"{PORT_ENV} must be a TCP port number, got {port_text!r}")
        else:
            port = 465 if use_ssl else 587 if starttls else 25
        user = get(USER_ENV) or None
        password = env.get(PASSWORD_ENV) or None  # kept verbatim: spaces may be part of it
        if user and not password:
            raise SmtpConfigError(f"{USER_ENV} is set but {PASSWORD_ENV} is not")
        if password and not user:
            raise SmtpConfigError(f"{PASSWORD_ENV} is set but {USER_ENV} is not")
        sender = required(SENDER_ENV, "the From address of the report")
        _check_address(SENDER_ENV, sender)
        recipients = tuple(
            r.strip()
            for r in required(RECIPIENTS_ENV, "who receives the report").split(",")
            if r.strip()
        )
        if not recipients:
            raise SmtpConfigError(f"{RECIPIENTS_ENV} holds no address")
        for recipient in recipients:
            _check_address(RECIPIENTS_ENV, recipient)
        return cls(host, port, sender, recipients, user, password, starttls, use_ssl)


def _flag(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SmtpConfigError(f"{name} must be 'true' or 'false', got {value!r}")


def _check_address(name: str, address: str) -> None:
    _, addr = parseaddr(address)
    if "@" not in addr or " " in addr:
        raise SmtpConfigError(f"{name} holds {address!r}, which is not an e-mail address")


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
    """The e-mail: multipart/alternative of the text and an HTML part with its inline PNGs.

    With images, the HTML part is a multipart/related holding the HTML and one ``image/png``
    per image, whose ``Content-ID`` is the ``cid:`` the HTML refers to.
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
    for cid, png in rendered.images.items():
        html_part.add_related(
            png,
            maintype="image",
            subtype="png",
            cid=f"<{cid}>",
            disposition="inline",
            filename=f"{cid.split('@', 1)[0]}.png",
        )
    return message


def _domain(address: str) -> str:
    _, addr = parseaddr(address)
    return addr.rpartition("@")[2] or "revops.local"


def report_path(out_dir: Path, period: Period) -> Path:
    """Where the HTML copy of a period's report is saved: ``reports/<edition>/<label>.html``."""
    return Path(out_dir) / "reports" / period.edition / f"{period.label}.html"


def self_contained_html(rendered: RenderedReport) -> str:
    """The HTML with each ``cid:`` image inlined as a ``data:`` URI, for viewing in a browser."""
    html = rendered.html
    for cid, png in rendered.images.items():
        data = base64.b64encode(png).decode("ascii")
        html = html.replace(f'src="cid:{cid}"', f'src="data:image/png;base64,{data}"')
    return html


def save_html(rendered: RenderedReport, path: Path) -> Path:
    """Write :func:`self_contained_html` to ``path`` (atomically) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(self_contained_html(rendered), encoding="utf-8")
    partial.replace(path)
    return path


def write_report(conn: psycopg.Connection[Any], period: Period, out_dir: Path) -> Path:
    """Render the report of ``period`` and save its HTML under ``out_dir`` without sending it."""
    return save_html(render_html(build_report(conn, period)), report_path(out_dir, period))


# -- SMTP -----------------------------------------------------------------------------------


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, _HIDDEN) if secret else text


def deliver(message: EmailMessage, settings: SmtpSettings) -> None:
    """Hand ``message`` to the SMTP server (SSL or STARTTLS and login when configured).

    Raises :class:`ReportSendError` (never showing the password) when the server refuses it.
    """
    context = ssl.create_default_context()
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
        refused = client.send_message(
            message, from_addr=settings.sender, to_addrs=list(settings.recipients)
        )
    except (smtplib.SMTPException, OSError) as err:
        detail = str(err) or type(err).__name__
        who = f" as {settings.user}" if settings.user else ""
        leaked = bool(settings.password) and settings.password in repr(err.args)
        raise ReportSendError(
            _scrub(
                f"sending the report via {settings.address}{who} failed: {detail}",
                settings.password,
            )
        ) from (None if leaked else err)
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    if refused:
        log.warning("the SMTP server refused some recipients: %s", ", ".join(sorted(refused)))


# -- exactly once ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    """One sent e-mail as recorded in ``revops_meta.report_sends``."""

    edition: str
    period: str
    run_key: str
    message_id: str
    recipients: tuple[str, ...]
    subject: str
    sent_at: datetime
    already_sent: bool
    html_path: Path


_DDL = f"""
create table if not exists {SENDS_TABLE} (
    edition text not null,
    period text not null,
    run_key text not null,
    message_id text not null,
    recipients text[] not null,
    subject text not null,
    sent_at timestamptz,
    primary key (edition, period, run_key)
)
"""

_COLUMNS = "edition, period, run_key, message_id, recipients, subject, sent_at"


def ensure_sends_table(conn: psycopg.Connection[Any]) -> None:
    """Create ``revops_meta.report_sends`` (and its schema) if missing; safe to run concurrently.

    ``sent_at`` is null only inside the transaction that is sending; committed rows are sent.
    """
    with conn.transaction():
        exists = conn.execute("select to_regclass(%s)", (SENDS_TABLE,)).fetchone()
        if exists is not None and exists[0] is not None:
            return
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (SENDS_TABLE,))
        conn.execute("create schema if not exists revops_meta")
        conn.execute(_DDL)
        conn.execute(
            f"comment on table {SENDS_TABLE} is 'One row per leadership report e-mail sent, "
            "unique per edition, period and run key (revops.reports.send).'"
        )


def _result(row: tuple[Any, ...], already_sent: bool, html_path: Path) -> SendResult:
    edition, period, run_key, message_id, recipients, subject, sent_at = row
    return SendResult(
        edition,
        period,
        run_key,
        message_id,
        tuple(recipients),
        subject,
        sent_at,
        already_sent,
        html_path,
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


def send_report(
    conn: psycopg.Connection[Any],
    period: Period,
    settings: SmtpSettings,
    run_key: str,
    out_dir: Path,
) -> SendResult:
    """Render the report of ``period``, save its HTML, and e-mail it once per ``run_key``.

    Returns the send record; ``already_sent`` is True when an earlier call with the same
    edition, period and run key sent it (nothing is rendered or sent then). ``conn`` must have
    no transaction open: this function commits its own (see the module docstring).
    """
    if not run_key:
        raise ValueError("run_key must be a non-empty string naming the run (e.g. its run id)")
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError(
            "send_report commits its own transactions: pass a connection with no open "
            "transaction (commit or roll back first)"
        )
    html_path = report_path(out_dir, period)
    ensure_sends_table(conn)
    earlier = find_send(conn, period, run_key)
    if earlier is not None:
        return _result(earlier, True, html_path)

    rendered = render_html(build_report(conn, period))
    save_html(rendered, html_path)
    message = build_message(rendered, period, settings.sender, settings.recipients)
    message["X-Revops-Run-Key"] = run_key
    key = (period.edition, period.label, run_key)
    message_id, subject = str(message["Message-ID"]), str(message["Subject"])
    delivered = False
    try:
        with conn.transaction():
            conn.execute("set transaction isolation level read committed")
            claimed = conn.execute(
                f"insert into {SENDS_TABLE} ({_COLUMNS}) values (%s, %s, %s, %s, %s, %s, null) "
                "on conflict (edition, period, run_key) do nothing returning edition",
                (*key, message_id, list(settings.recipients), subject),
            ).fetchone()
            if claimed is None:
                row = conn.execute(
                    f"select {_COLUMNS} from {SENDS_TABLE} "
                    "where edition = %s and period = %s and run_key = %s for update",
                    key,
                ).fetchone()
                if row is None:
                    raise ReportSendError(
                        f"the {SENDS_TABLE} row for {key} vanished while claiming it; "
                        "nothing was sent, retry"
                    )
                if row[-1] is not None:
                    return _result(row, True, html_path)  # a concurrent caller sent it
                conn.execute(  # an unsent row (not written by this module): take it over
                    f"update {SENDS_TABLE} set message_id = %s, recipients = %s, subject = %s "
                    "where edition = %s and period = %s and run_key = %s",
                    (message_id, list(settings.recipients), subject, *key),
                )
            deliver(message, settings)
            delivered = True
            row = conn.execute(
                f"update {SENDS_TABLE} set sent_at = clock_timestamp() "
                "where edition = %s and period = %s and run_key = %s "
                f"returning {_COLUMNS}",
                key,
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
    log.info("sent %s to %s (%s)", subject, ", ".join(settings.recipients), message_id)
    return _result(row, False, html_path)
