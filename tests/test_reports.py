"""The leadership report against a real PostgreSQL and a real SMTP server (MailCatcher).

Every test builds the four marts the report reads from a small hand-made data set, so the
expected numbers are known exactly:

=========  =====  ====  ====  =========  ===========================================
period     leads  MQLs  SQLs  customers  spend
=========  =====  ====  ====  =========  ===========================================
2026-W46   10     7     3     1          USD 2,234.50, EUR 500.00
2026-W45   8      5     2     0          USD 2,000.00
=========  =====  ====  ====  =========  ===========================================

MQLs by channel (last_touch): W46 paid_search 4, email 2, (none) 1; W45 paid_search 3,
organic_search 2. Rows just outside the periods (and other models, other conversion types)
are there to be left out.
"""

from __future__ import annotations

import re
import smtplib
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from revops.reports.mailcatcher import MailCatcher
from revops.reports.periods import parse_period
from revops.reports.render import (
    RenderedReport,
    ReportError,
    WeekCounts,
    build_report,
    render_html,
)
from revops.reports.send import (
    ReportSendError,
    SmtpConfigError,
    SmtpSettings,
    build_message,
    send_report,
    write_report,
)

W46 = parse_period("2026-W46")
W45 = parse_period("2026-W45")

MARTS_DDL = """
create schema marts;
create table marts.fct_funnel (
    person_id text primary key, email text, hubspot_contact_id text, mailchimp_member_id text,
    lead_at timestamptz, mql_at timestamptz, sal_at timestamptz, sql_at timestamptz,
    opportunity_at timestamptz, customer_at timestamptz,
    source_channel text, source text, source_campaign text
);
create table marts.rpt_funnel_weekly (
    week_start date, source_channel text, leads bigint, mqls bigint, sals bigint, sqls bigint,
    opportunities bigint, customers bigint
);
create table marts.fct_ad_spend_daily (
    date_day date, platform text, account_id text, campaign_id text, campaign_name text,
    channel text, spend numeric, currency text, impressions bigint, clicks bigint,
    platform_conversions double precision, time_zone text
);
create table marts.fct_attribution (
    conversion_id text, conversion_type text, person_id text, converted_at timestamptz,
    touchpoint_id text, touched_at timestamptz, model text, credit double precision,
    channel text, campaign_id text, campaign_name text
);
"""

# person, lead_at, mql_at, sql_at, customer_at (UTC unless an offset is given)
W45_LEAD, W45_MQL, W45_SQL = "2026-11-03 09:00Z", "2026-11-04 10:00Z", "2026-11-06 11:00Z"
W46_LEAD, W46_MQL, W46_SQL = "2026-11-10 09:00Z", "2026-11-11 10:00Z", "2026-11-12 11:00Z"
FUNNEL = [
    ("p01", W45_LEAD, W45_MQL, W45_SQL, "2026-11-13 15:00Z"),  # customer in W46
    ("p02", W45_LEAD, W45_MQL, W45_SQL, None),
    ("p03", W45_LEAD, W45_MQL, W46_SQL, None),  # MQL in W45, SQL in W46
    ("p04", W45_LEAD, W45_MQL, None, None),
    ("p05", W45_LEAD, W45_MQL, None, None),
    ("p06", W45_LEAD, W46_MQL, None, None),  # lead in W45, MQL in W46
    ("p07", W45_LEAD, None, None, None),
    ("p08", "2026-11-09 00:30+01", None, None, None),  # Sunday 23:30 UTC: still W45
    *[(f"p{n}", W46_LEAD, W46_MQL, W46_SQL, None) for n in (11, 12)],
    *[(f"p{n}", W46_LEAD, W46_MQL, None, None) for n in (13, 14, 15, 16)],
    *[(f"p{n}", W46_LEAD, None, None, None) for n in (17, 18, 19)],
    ("p20", "2026-11-16 00:30+01", None, None, None),  # Sunday 23:30 UTC: still W46
    ("p21", "2026-11-16 00:00Z", "2026-11-16 00:00Z", "2026-11-16 00:00Z", None),  # W47
    ("p22", "2026-11-01 23:59Z", "2026-11-01 23:59Z", None, None),  # W44
]

WEEKLY = [  # week_start, channel, leads, mqls, sals, sqls, opportunities, customers
    ("2026-08-17", "paid_search", 99, 99, 99, 99, 99, 99),  # 13 weeks back: off the chart
    ("2026-11-02", "paid_search", 5, 3, 1, 1, 1, 0),
    ("2026-11-02", "organic_search", 3, 2, 1, 1, 0, 0),
    ("2026-11-09", "paid_search", 6, 4, 2, 2, 1, 1),
    ("2026-11-09", "organic_search", 4, 3, 1, 1, 0, 0),
    ("2026-11-16", "paid_search", 50, 50, 50, 50, 50, 50),  # after the period
]

SPEND = [  # date_day, spend, currency
    ("2026-11-01", "777.00", "USD"),  # W44
    ("2026-11-02", "1500.00", "USD"),
    ("2026-11-08", "500.00", "USD"),
    ("2026-11-09", "1000.00", "USD"),
    ("2026-11-12", "500.00", "EUR"),
    ("2026-11-15", "1234.50", "USD"),
    ("2026-11-16", "9999.00", "USD"),  # W47
]

ATTRIBUTION = [  # person, conversion_type, converted_at, model, credit, channel
    *[(p, "mql", W46_MQL, "last_touch", 1.0, "paid_search") for p in ("p11", "p12", "p13", "p14")],
    *[(p, "mql", W46_MQL, "last_touch", 1.0, "email") for p in ("p15", "p16")],
    ("p06", "mql", W46_MQL, "last_touch", 1.0, None),  # no touch: reported as (none)
    *[(p, "mql", W45_MQL, "last_touch", 1.0, "paid_search") for p in ("p01", "p02", "p03")],
    *[(p, "mql", W45_MQL, "last_touch", 1.0, "organic_search") for p in ("p04", "p05")],
    ("p11", "mql", W46_MQL, "linear", 0.5, "events"),  # another model
    ("p11", "sql", W46_SQL, "last_touch", 1.0, "referral"),  # another conversion type
    ("p21", "mql", "2026-11-16 00:00Z", "last_touch", 1.0, "referral"),  # W47
]

RECIPIENTS = ("ceo@example.com", "cmo@example.com")
SENDER = "revops@example.com"


def create_marts(conn: psycopg.Connection, with_rows: bool = True) -> None:
    """The marts schema with the hand-made rows above (or none)."""
    conn.execute(MARTS_DDL)
    if not with_rows:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "insert into marts.fct_funnel (person_id, email, lead_at, mql_at, sal_at, sql_at, "
            "opportunity_at, customer_at, source_channel) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, 'paid_search')",
            [
                (p, f"{p}@example.com", lead, mql, sql, sql, customer, customer)
                for p, lead, mql, sql, customer in FUNNEL
            ],
        )
        cur.executemany(
            "insert into marts.rpt_funnel_weekly values (%s, %s, %s, %s, %s, %s, %s, %s)", WEEKLY
        )
        cur.executemany(
            "insert into marts.fct_ad_spend_daily (date_day, platform, account_id, campaign_id, "
            "campaign_name, channel, spend, currency, impressions, clicks, platform_conversions, "
            "time_zone) values (%s, 'google_ads', %s, 'c1', 'Brand', 'paid_search', %s, %s, "
            "1000, 50, 2.0, 'America/New_York')",
            [(day, f"acct-{currency}", spend, currency) for day, spend, currency in SPEND],
        )
        cur.executemany(
            "insert into marts.fct_attribution values (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "null, null)",
            [
                (f"{p}:{kind}", kind, p, at, f"t-{p}-{kind}", at, model, credit, channel)
                for p, kind, at, model, credit, channel in ATTRIBUTION
            ],
        )


@pytest.fixture
def marts_url(fresh_db: str) -> str:
    """A database holding the hand-made marts."""
    with psycopg.connect(fresh_db) as conn:
        create_marts(conn)
    return fresh_db


@pytest.fixture
def empty_marts_url(fresh_db: str) -> str:
    """A database holding the marts' tables with no rows."""
    with psycopg.connect(fresh_db) as conn:
        create_marts(conn, with_rows=False)
    return fresh_db


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    with MailCatcher(tmp_path / "outbox") as running:
        yield running


def settings_for(catcher: MailCatcher, **changes: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": catcher.host,
        "port": catcher.port,
        "sender": SENDER,
        "recipients": RECIPIENTS,
    }
    values.update(changes)
    return SmtpSettings(**values)  # type: ignore[arg-type]


class _Html(HTMLParser):
    """Table rows (cell texts) and image tags of an HTML document."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.images: list[dict[str, str | None]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def rendered_for(url: str, label: str = "2026-W46") -> RenderedReport:
    with psycopg.connect(url) as conn:
        return render_html(build_report(conn, parse_period(label)))


# -- the numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("autocommit", [False, True])
def test_build_report_counts_what_the_marts_hold(marts_url: str, autocommit: bool) -> None:
    with psycopg.connect(marts_url, autocommit=autocommit) as conn:
        report = build_report(conn, W46)
        assert conn.info.transaction_status == TransactionStatus.IDLE  # nothing left open
    now, before = report.current, report.previous
    assert report.previous_period == W45
    assert (now.leads, now.mqls, now.sqls, now.customers) == (10, 7, 3, 1)
    assert (before.leads, before.mqls, before.sqls, before.customers) == (8, 5, 2, 0)
    assert now.mql_to_sql_ratio == pytest.approx(3 / 7)
    assert before.mql_to_sql_ratio == pytest.approx(2 / 5)
    assert now.spend == {"EUR": Decimal("500.00"), "USD": Decimal("2234.50")}
    assert before.spend == {"USD": Decimal("2000.00")}
    assert now.mqls_by_channel == {"paid_search": 4.0, "email": 2.0, "(none)": 1.0}
    assert before.mqls_by_channel == {"paid_search": 3.0, "organic_search": 2.0}
    assert report.change("mqls").delta == 2 and report.change("mqls").relative == pytest.approx(0.4)
    assert report.change("customers").relative is None  # nothing to compare with
    assert len(report.weeks) == 12
    assert report.weeks[0].week_start == date(2026, 8, 24)
    assert report.weeks[-2] == WeekCounts(date(2026, 11, 2), 8, 5, 2, 2, 1, 0)
    assert report.weeks[-1] == WeekCounts(date(2026, 11, 9), 10, 7, 3, 3, 1, 1)
    assert sum(w.leads for w in report.weeks) == 18  # neither the 99s nor the 50s


def test_a_monthly_report_covers_the_calendar_month(marts_url: str) -> None:
    with psycopg.connect(marts_url) as conn:
        report = build_report(conn, parse_period("2026-11"))
    assert report.previous_period.label == "2026-10"
    # November holds W45 and W46, plus Sunday 1 November (W44: p22, USD 777) and Monday
    # 16 November (W47: p21, USD 9,999).
    assert (report.current.leads, report.current.mqls, report.current.sqls) == (20, 14, 6)
    assert report.current.spend["USD"] == Decimal("15010.50")
    assert report.previous.leads == 0


def test_rendered_html_shows_the_numbers_inserted(marts_url: str) -> None:
    rendered = rendered_for(marts_url)
    rows = _Html(rendered.html).rows
    assert ["Leads", "10", "8", "+2 (+25.0%)"] in rows
    assert ["MQLs", "7", "5", "+2 (+40.0%)"] in rows
    assert ["SQLs", "3", "2", "+1 (+50.0%)"] in rows
    assert ["Customers", "1", "0", "+1 (new)"] in rows
    assert ["MQL \u2192 SQL ratio*", "42.9%", "40.0%", "+2.9 pp"] in rows
    assert ["USD", "USD 2,234.50", "USD 2,000.00", "+USD 234.50 (+11.7%)"] in rows
    assert ["EUR", "EUR 500.00", "EUR 0.00", "+EUR 500.00 (new)"] in rows
    assert ["paid_search", "4", "3", "57.1%"] in rows
    assert ["email", "2", "0", "28.6%"] in rows
    assert ["(none)", "1", "0", "14.3%"] in rows
    assert ["organic_search", "0", "2", "0.0%"] in rows
    assert "not the cohort conversion rate" in rendered.html  # the footnote on the ratio
    assert "No data" not in rendered.html


def test_rendered_text_carries_the_same_numbers(marts_url: str) -> None:
    text = rendered_for(marts_url).text
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "revops weekly report 2026-W46" in lines
    assert "MQLs 7 5 +2 (+40.0%)" in lines
    assert "MQL \u2192 SQL ratio* 42.9% 40.0% +2.9 pp" in lines
    assert "USD USD 2,234.50 USD 2,000.00 +USD 234.50 (+11.7%)" in lines
    assert "paid_search 4 3 57.1%" in lines


def test_html_images_are_cid_pngs_with_alt_text_and_size(marts_url: str) -> None:
    rendered = rendered_for(marts_url)
    images = _Html(rendered.html).images
    assert len(images) == 2 == len(rendered.images)
    for img in images:
        src = img["src"] or ""
        assert src.startswith("cid:") and src[4:] in rendered.images
        assert img["alt"] and int(img["width"] or 0) > 0 and int(img["height"] or 0) > 0
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in rendered.images.values())
    channel_alt = next(i["alt"] for i in images if "channel" in (i["alt"] or ""))
    assert "paid_search 4, email 2, (none) 1" in (channel_alt or "")
    assert "<style" not in rendered.html  # styles are inline, as mail clients need


def test_an_empty_period_renders_zeros_and_no_data(empty_marts_url: str) -> None:
    rendered = rendered_for(empty_marts_url)
    rows = _Html(rendered.html).rows
    assert ["MQLs", "0", "0", "no change"] in rows
    assert ["MQL \u2192 SQL ratio*", "n/a", "n/a", "n/a"] in rows
    assert "No data" in rendered.html and "No data" in rendered.text
    assert "No ad spend recorded in 2026-W46" in rendered.html
    assert rendered.images == {} and "cid:" not in rendered.html


def test_a_quiet_period_after_a_busy_one_says_no_data_and_shows_the_drop(marts_url: str) -> None:
    rendered = rendered_for(marts_url, "2026-W48")  # nothing in W48; W47 holds p21 only
    rows = _Html(rendered.html).rows
    assert "No data for 2026-W48" in rendered.html
    assert ["Leads", "0", "1", "-1 (-100.0%)"] in rows
    assert ["MQL \u2192 SQL ratio*", "n/a", "100.0%", "n/a"] in rows
    assert ["USD", "USD 0.00", "USD 9,999.00", "-USD 9,999.00 (-100.0%)"] in rows
    assert ["referral", "0", "1", "n/a"] in rows
    assert "No attributed MQLs in 2026-W48" in rendered.html
    assert [cid.split(".")[0] for cid in rendered.images] == ["funnel-weekly"]  # weeks 45-47


def test_missing_marts_raise_a_clear_error(fresh_db: str) -> None:
    with psycopg.connect(fresh_db) as conn, pytest.raises(ReportError, match="fct_funnel"):
        build_report(conn, W46)


# -- the mail catcher -----------------------------------------------------------------------


def test_mailcatcher_on_port_zero_listens_on_a_real_port_and_keeps_every_message(
    tmp_path: Path,
) -> None:
    with MailCatcher(tmp_path / "box", port=0) as catcher:
        assert catcher.port > 0
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = "hi", SENDER, "a@example.com"
        message["Message-ID"] = "<same@example.com>"
        message.set_content("hello")
        for _ in range(2):  # the same Message-ID twice: two files, none overwritten
            with smtplib.SMTP(catcher.host, catcher.port, timeout=10) as client:
                client.send_message(message)
        assert len(catcher.paths()) == 2
        assert all(p.suffix == ".eml" for p in catcher.paths())
        received = catcher.messages()
    assert [m["Subject"] for m in received] == ["hi", "hi"]
    assert received[0]["X-RcptTo"] == "a@example.com"
    assert received[0].get_content().strip() == "hello"


# -- sending --------------------------------------------------------------------------------


def test_the_received_message_has_text_html_and_inline_images(
    marts_url: str, catcher: MailCatcher, tmp_path: Path
) -> None:
    with psycopg.connect(marts_url) as conn:
        result = send_report(conn, W46, settings_for(catcher), "run-1", tmp_path / "out")
    assert result.already_sent is False
    [message] = catcher.messages()
    assert message["Subject"] == "revops weekly report 2026-W46"
    assert message["Message-ID"] == result.message_id
    assert message["X-RcptTo"] == ", ".join(RECIPIENTS)
    assert message.get_content_type() == "multipart/alternative"
    text_part, related = message.get_payload()
    assert text_part.get_content_type() == "text/plain"
    assert "42.9%" in text_part.get_content()
    assert related.get_content_type() == "multipart/related"
    html_part, *image_parts = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    html = html_part.get_content()
    assert ["MQLs", "7", "5", "+2 (+40.0%)"] in _Html(html).rows
    referenced = set(re.findall(r'src="cid:([^"]+)"', html))
    assert len(image_parts) == 2
    content_ids = {part["Content-ID"].strip("<>") for part in image_parts}
    assert content_ids == referenced
    for part in image_parts:
        assert part.get_content_type() == "image/png"
        assert part.get_content_disposition() == "inline"
        assert part.get_content().startswith(b"\x89PNG")
    saved = tmp_path / "out" / "reports" / "weekly" / "2026-W46.html"
    assert result.html_path == saved
    assert "data:image/png;base64," in saved.read_text() and "cid:" not in saved.read_text()


def test_build_message_without_images_is_text_and_html_only() -> None:
    rendered = RenderedReport(html="<p>no data</p>", text="no data", images={})
    message = build_message(rendered, parse_period("2026-11"), SENDER, RECIPIENTS)
    assert message["Subject"] == "revops monthly report 2026-11"
    assert message["To"] == "ceo@example.com, cmo@example.com"
    assert [p.get_content_type() for p in message.get_payload()] == ["text/plain", "text/html"]


def test_write_report_saves_a_self_contained_preview_without_sending(
    marts_url: str, catcher: MailCatcher, tmp_path: Path
) -> None:
    with psycopg.connect(marts_url) as conn:
        path = write_report(conn, parse_period("2026-11"), tmp_path)
    assert path == tmp_path / "reports" / "monthly" / "2026-11.html"
    html = path.read_text()
    assert ["Leads", "20", "0", "+20 (new)"] in _Html(html).rows
    assert html.count("data:image/png;base64,") == 2
    assert catcher.messages() == []


def _sends(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select edition, period, run_key, message_id, recipients, subject, sent_at "
            "from revops_meta.report_sends order by sent_at"
        ).fetchall()


def test_the_same_run_key_sends_once_and_a_new_one_sends_again(
    marts_url: str, catcher: MailCatcher, tmp_path: Path
) -> None:
    settings = settings_for(catcher)
    with psycopg.connect(marts_url) as conn:
        first = send_report(conn, W46, settings, "scheduled__2026-11-16", tmp_path)
        again = send_report(conn, W46, settings, "scheduled__2026-11-16", tmp_path)
    assert (first.already_sent, again.already_sent) == (False, True)
    assert again.message_id == first.message_id and again.sent_at == first.sent_at
    assert len(catcher.messages()) == 1
    [row] = _sends(marts_url)
    assert row[:6] == (
        "weekly",
        "2026-W46",
        "scheduled__2026-11-16",
        first.message_id,
        list(RECIPIENTS),
        "revops weekly report 2026-W46",
    )
    assert row[6] is not None

    with psycopg.connect(marts_url) as conn:
        rerun = send_report(conn, W46, settings, "manual__2026-11-17", tmp_path)
    assert rerun.already_sent is False and rerun.message_id != first.message_id
    assert len(catcher.messages()) == 2
    assert len(_sends(marts_url)) == 2


def test_concurrent_sends_with_one_run_key_deliver_one_message(
    marts_url: str, catcher: MailCatcher, tmp_path: Path
) -> None:
    settings = settings_for(catcher)
    start = threading.Barrier(3)
    results: list = []

    def send() -> None:
        with psycopg.connect(marts_url) as conn:
            start.wait()
            results.append(send_report(conn, W46, settings, "race", tmp_path))

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 3
    assert sorted(r.already_sent for r in results) == [False, True, True]
    assert len({r.message_id for r in results}) == 1
    assert len(catcher.messages()) == 1
    assert len(_sends(marts_url)) == 1


def test_a_failed_send_records_nothing_and_stays_retryable(marts_url: str, tmp_path: Path) -> None:
    catcher = MailCatcher(tmp_path / "box").start()
    port = catcher.port
    catcher.stop()  # nobody listens on the port now
    with psycopg.connect(marts_url) as conn:
        with pytest.raises(ReportSendError, match=f"127.0.0.1:{port}"):
            send_report(conn, W46, settings_for(catcher, port=port), "run-1", tmp_path)
        assert _sends(marts_url) == []
        with MailCatcher(tmp_path / "box") as running:
            result = send_report(conn, W46, settings_for(running), "run-1", tmp_path)
            assert result.already_sent is False
            assert len(running.messages()) == 1
    assert len(_sends(marts_url)) == 1


def test_send_report_refuses_a_connection_inside_a_transaction(
    marts_url: str, catcher: MailCatcher, tmp_path: Path
) -> None:
    with psycopg.connect(marts_url) as conn:
        conn.execute("select 1")
        with pytest.raises(ValueError, match="no open transaction"):
            send_report(conn, W46, settings_for(catcher), "run-1", tmp_path)
    assert catcher.messages() == []


# -- credentials never show -----------------------------------------------------------------

PASSWORD = "pa55-Very-Secret"


def test_login_is_used_and_a_wrong_password_is_not_revealed(marts_url: str, tmp_path: Path) -> None:
    with MailCatcher(tmp_path / "box", credentials=("reports", PASSWORD)) as catcher:
        wrong = settings_for(catcher, user="reports", password=PASSWORD + "-typo")
        with psycopg.connect(marts_url) as conn:
            with pytest.raises(ReportSendError) as err:
                send_report(conn, W46, wrong, "run-1", tmp_path)
            assert "535" in str(err.value) and "reports" in str(err.value)
            assert PASSWORD not in str(err.value) and PASSWORD not in repr(err.value)
            right = settings_for(catcher, user="reports", password=PASSWORD)
            send_report(conn, W46, right, "run-1", tmp_path)
        [message] = catcher.messages()
    assert message["X-Auth-Login"] == "reports"


def _env(**overrides: str) -> dict[str, str]:
    env = {
        "REVOPS_SMTP_HOST": "smtp.example.com",
        "REVOPS_SMTP_USER": "reports",
        "REVOPS_SMTP_PASSWORD": PASSWORD,
        "REVOPS_SMTP_STARTTLS": "true",
        "REVOPS_SMTP_SSL": "false",
        "REVOPS_REPORT_SENDER": "Revops <revops@example.com>",
        "REVOPS_REPORT_RECIPIENTS": "ceo@example.com, cmo@example.com,",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v != "<unset>"}


def test_settings_from_env_read_every_variable_and_hide_the_password() -> None:
    settings = SmtpSettings.from_env(_env())
    assert (settings.host, settings.port, settings.starttls, settings.ssl) == (
        "smtp.example.com",
        587,
        True,
        False,
    )
    assert settings.recipients == RECIPIENTS
    assert settings.user == "reports" and settings.password == PASSWORD
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    assert "***" in repr(settings)
    assert (
        SmtpSettings.from_env(_env(REVOPS_SMTP_STARTTLS="false", REVOPS_SMTP_SSL="true")).port
        == 465
    )
    assert SmtpSettings.from_env(_env(REVOPS_SMTP_PORT="2525")).port == 2525


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"REVOPS_SMTP_HOST": "<unset>"}, "REVOPS_SMTP_HOST"),
        ({"REVOPS_REPORT_SENDER": "<unset>"}, "REVOPS_REPORT_SENDER"),
        ({"REVOPS_REPORT_RECIPIENTS": " , "}, "REVOPS_REPORT_RECIPIENTS"),
        ({"REVOPS_REPORT_RECIPIENTS": "ceo"}, "REVOPS_REPORT_RECIPIENTS"),
        ({"REVOPS_SMTP_PASSWORD": "<unset>"}, "REVOPS_SMTP_PASSWORD"),
        ({"REVOPS_SMTP_USER": "<unset>"}, "REVOPS_SMTP_USER"),
        ({"REVOPS_SMTP_STARTTLS": "maybe"}, "REVOPS_SMTP_STARTTLS"),
        ({"REVOPS_SMTP_SSL": "true"}, "REVOPS_SMTP_SSL"),
        ({"REVOPS_SMTP_PORT": "smtp"}, "REVOPS_SMTP_PORT"),
    ],
)
def test_settings_errors_name_the_variable_never_the_password(
    overrides: dict[str, str], named: str
) -> None:
    with pytest.raises(SmtpConfigError) as err:
        SmtpSettings.from_env(_env(**overrides))
    assert named in str(err.value)
    assert PASSWORD not in str(err.value)
