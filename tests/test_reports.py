"""The leadership report against a real PostgreSQL and a real SMTP server (MailCatcher).

The marts are the consistent world of ``test_publish_data``; every expected number is read
from the marts here with its own SQL, so the report must show exactly what the marts hold.
"""

from __future__ import annotations

import csv
import io
import re
import smtplib
import threading
from collections.abc import Iterator
from dataclasses import asdict
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from test_publish_data import AS_OF, build_world, sql

from revops.quality.dbt_results import NodeResult, judge, model_id
from revops.quality.gate import Failure, GateResult
from revops.quality.runs import GateNotPassed, record_gate_run
from revops.reports.mailcatcher import MailCatcher
from revops.reports.periods import parse_period
from revops.reports.render import RenderedReport, ReportError, build_report, render_report
from revops.reports.send import (
    ReportSendError,
    SmtpConfigError,
    SmtpSettings,
    archive_report,
    build_message,
    environ_from_connection,
    send_report,
    write_report,
)
from revops.simulator.tls import ensure_certificates

W46 = parse_period("2026-W46")
W45 = parse_period("2026-W45")
OCT = parse_period("2026-10")
RECIPIENTS = ("ceo@example.com", "cmo@example.com")
SENDER = "revops@example.com"
# the warning the gate makes of dbt's result for a `severity: warn` test (3 rows of 1,512 null)
WARNING = Failure(
    **asdict(
        judge(
            [
                NodeResult(
                    "build",
                    model_id("fct_ad_spend_daily"),
                    "model",
                    "fct_ad_spend_daily",
                    "success",
                    None,
                    None,
                    "",
                    (),
                    AS_OF,
                ),
                NodeResult(
                    "build",
                    "test.revops.not_null_fct_ad_spend_daily_platform_conversions.1a2b3c",
                    "test",
                    "not_null_fct_ad_spend_daily_platform_conversions",
                    "warn",
                    "warn",
                    3,
                    "Got 3 results, configured to warn if != 0",
                    (model_id("fct_ad_spend_daily"),),
                    AS_OF,
                ),
            ],
            ["fct_ad_spend_daily"],
            "marts",
            {"fct_ad_spend_daily": ("platform_conversions",)},
            lambda mart: 1512,
        )[0]
    )
)


@pytest.fixture
def world(fresh_db: str) -> str:
    build_world(fresh_db)
    return fresh_db


def record_gate(url: str, period, passed: bool = True, failures=()) -> int:
    """Record a gate run for ``period`` as the gate would."""
    result = GateResult(
        passed=passed,
        failures=list(failures),
        docs_index=Path("/docs/index.html"),
        as_of=AS_OF.isoformat(),
    )
    with psycopg.connect(url) as conn:
        return record_gate_run(conn, result, [period], "test-gate")[0]


@pytest.fixture
def gated(world: str) -> str:
    """The world with a passing gate run for 2026-W46 (with one warning)."""
    record_gate(world, W46, failures=[WARNING])
    return world


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


class Html(HTMLParser):
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


def one(url: str, query: str, params: tuple = ()) -> tuple:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row


def usd(value: float) -> str:
    return f"USD {round(value):,}"


def pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def expected_headline(url: str, period) -> dict[str, float | None]:
    """The headline numbers of ``period``, straight from the marts."""
    kind, start = period.period_type, period.start
    pipeline, won = one(
        url,
        "select sum(pipeline_created), sum(won_revenue) from "
        "marts.rpt_pipeline where period_type = %s and period_start = %s",
        (kind, start),
    )
    (spend,) = one(
        url,
        "select sum(spend_reporting) from marts.fct_ad_spend_daily "
        "where date_day >= %s and date_day < %s",
        (period.start, period.end),
    )
    customers, mqls = one(
        url,
        "select sum(customers), sum(mqls) from "
        "marts.rpt_funnel_conversion where period_type = %s "
        "and period_start = %s",
        (kind, start),
    )
    sqls, cohort = one(
        url,
        "select count(sql_at), count(*) from marts.fct_funnel where mql_at >= %s and mql_at < %s",
        (period.start_at, period.end_at),
    )
    within, decided = one(
        url,
        "select sum(handed_off_within_sla), sum(sla_decided) from "
        "marts.rpt_lead_handoff where week_start >= %s "
        "and week_start < %s",
        (period.start, period.end),
    )
    return {
        "pipeline_created": float(pipeline),
        "won_revenue": float(won),
        "cac": float(spend) / float(customers) if customers else None,
        "mqls": float(mqls),
        "mql_to_sql_rate": sqls / cohort if cohort else None,
        "handoff_sla_met": float(within) / float(decided) if decided else None,
    }


# -- the numbers ----------------------------------------------------------------------------


def test_every_headline_number_equals_the_marts_for_the_period_and_the_one_before(
    world: str,
) -> None:
    with psycopg.connect(world) as conn:
        report = build_report(conn, W46)
    assert report.previous_period == W45 and report.currency == "USD"
    now, before = expected_headline(world, W46), expected_headline(world, W45)
    for kpi in report.kpis:
        assert kpi.missing is None
        assert kpi.current == pytest.approx(now[kpi.key]), kpi.key
        assert kpi.previous == pytest.approx(before[kpi.key]), kpi.key
    assert report.kpi("pipeline_created").current > 0 and report.kpi("won_revenue").current > 0
    assert report.unavailable == {}


def test_attribution_spend_quality_and_handoff_equal_the_marts(world: str) -> None:
    with psycopg.connect(world) as conn:
        report = build_report(conn, W46)
        attributed = conn.execute(
            "select channel, conversion_type, model, sum(attributed_revenue) "
            "from marts.rpt_channel_attribution where period_type = 'week' "
            "and period_start = '2026-11-09' and conversion_type in ('opportunity', 'customer') "
            "and model in ('last_touch', 'w_shaped', 'markov') group by 1, 2, 3"
        ).fetchall()
        spend = dict(
            conn.execute(
                "select channel, sum(spend_reporting) from marts.fct_ad_spend_daily "
                "where date_day between '2026-11-09' and '2026-11-15' group by 1"
            ).fetchall()
        )
        quality = conn.execute(
            "select channel, sum(mqls), sum(accepted), sum(rejected) from marts.rpt_lead_quality "
            "where period_type = 'week' and period_start = '2026-11-09' group by 1"
        ).fetchall()
        reasons = dict(
            conn.execute(
                "select disqualification_reason, sum(rejected) from marts.rpt_lead_rejections "
                "where period_type = 'week' and period_start = '2026-11-09' group by 1"
            ).fetchall()
        )
        owners = conn.execute(
            "select owner_name, mqls, handed_off_within_sla, still_waiting, "
            "median_handoff_hours from marts.rpt_lead_handoff "
            "where week_start = '2026-11-09'"
        ).fetchall()
    a = report.attribution
    assert a is not None and a.models == ("last_touch", "w_shaped", "markov")
    for channel, kind, model, revenue in attributed:
        table = a.pipeline if kind == "opportunity" else a.revenue
        assert table[channel][model] == pytest.approx(float(revenue))
    for model in a.models:  # every model hands out the same total
        assert a.total("revenue", model) == pytest.approx(report.kpi("won_revenue").current)
    assert {r.channel: r.spend for r in report.spend or ()} == pytest.approx(
        {c: float(v) for c, v in spend.items()}
    )
    assert {(r.channel, r.mqls, r.accepted, r.rejected) for r in report.lead_quality or ()} == {
        (c, int(m), int(acc), int(rej)) for c, m, acc, rej in quality
    }
    assert {r.reason: r.rejected for r in report.rejections or ()} == {
        k: int(v) for k, v in reasons.items()
    }
    assert {(r.owner, r.mqls, r.within_sla, r.still_waiting) for r in report.handoff or ()} == {
        (name, m, w, s) for name, m, w, s, _ in owners
    }
    medians = {r.owner: r.median_hours for r in report.handoff or ()}
    assert medians == pytest.approx({name: med for name, _, _, _, med in owners})


def test_the_monthly_edition_reads_month_rows_and_the_weeks_starting_in_it(world: str) -> None:
    with psycopg.connect(world) as conn:
        report = build_report(conn, OCT)
    assert report.previous_period.label == "2026-09"
    expected = expected_headline(world, OCT)
    for kpi in report.kpis:
        assert kpi.current == pytest.approx(expected[kpi.key]), kpi.key
    (handoff_mqls,) = one(
        world,
        "select sum(mqls) from marts.rpt_lead_handoff where "
        "week_start between '2026-10-01' and '2026-10-31'",
    )
    assert sum(r.mqls for r in report.handoff or ()) == handoff_mqls
    assert report.funnel is not None and report.funnel.weeks[-1][0].isoformat() == "2026-10-26"


def test_the_html_shows_the_marts_numbers(gated: str) -> None:
    with psycopg.connect(gated) as conn:
        report = build_report(conn, W46)
    rendered = render_report(report)
    html = rendered.html
    now = expected_headline(gated, W46)
    for value in (
        usd(now["pipeline_created"]),
        usd(now["won_revenue"]),
        usd(now["cac"]),
        f"{int(now['mqls'])}",
        pct(now["mql_to_sql_rate"]),
        pct(now["handoff_sla_met"]),
    ):
        assert f">{value}</td>" in html, value
    rows = Html(html).rows
    a = report.attribution
    assert a is not None
    top = a.channels[0]
    assert [top, *(usd(a.revenue[top].get(m, 0.0)) for m in a.models)] in [r[:4] for r in rows]
    assert ["Total", *(usd(a.total("revenue", m)) for m in a.models), ""] in rows
    stages = one(
        gated,
        "select sum(leads), sum(mqls), sum(customers) from "
        "marts.rpt_funnel_conversion where period_type = 'week' "
        "and period_start = '2026-11-09'",
    )
    assert [r[1] for r in rows if len(r) == 4 and r[0] in ("Leads", "MQLs", "Customers")] == [
        str(v) for v in stages
    ]
    spend = report.spend[0]  # type: ignore[index]
    assert [spend.channel, usd(spend.spend), usd(spend.previous_spend)] in [r[:3] for r in rows]
    assert "Where the models disagree" in html
    assert "<style" not in html  # every style is inline, as mail clients need
    assert "Not available yet" not in html


def test_the_text_part_carries_the_same_numbers(world: str) -> None:
    with psycopg.connect(world) as conn:
        rendered = render_report(build_report(conn, W46), with_pdf=False)
    lines = [" ".join(line.split()) for line in rendered.text.splitlines()]
    now = expected_headline(world, W46)
    assert "revops weekly report 2026-W46" in lines
    assert any(
        line.startswith(f"Pipeline created {usd(now['pipeline_created'])}") for line in lines
    )
    assert any(line.startswith(f"MQL → SQL rate {pct(now['mql_to_sql_rate'])}") for line in lines)
    assert "ATTRIBUTED PIPELINE AND REVENUE BY CHANNEL" in lines
    assert rendered.pdf == b""


def test_images_are_cid_pngs_with_alt_text_that_carries_the_numbers(world: str) -> None:
    with psycopg.connect(world) as conn:
        report = build_report(conn, W46)
    rendered = render_report(report, with_pdf=False)
    images = Html(rendered.html).images
    assert [i["src"] for i in images] == [f"cid:{c.cid}" for c in rendered.charts]
    assert [c.cid.split(".")[0] for c in rendered.charts] == [
        "attribution",
        "funnel",
        "trend",
        "spend",
    ]
    for img in images:
        assert img["alt"] and int(img["width"] or 0) > 0 and int(img["height"] or 0) > 0
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in rendered.images.values())
    funnel = report.funnel
    assert funnel is not None
    funnel_alt = next(i["alt"] for i in images if (i["src"] or "").startswith("cid:funnel."))
    assert f"Leads {funnel.current.leads}, MQLs {funnel.current.mqls}" in (funnel_alt or "")


def test_marts_not_built_yet_show_as_not_available_and_the_rest_renders(world: str) -> None:
    sql(
        world,
        """  -- what the marts were before this release
        drop table marts.fct_opportunities; drop table marts.rpt_lead_handoff;
        alter table marts.fct_funnel drop column disqualification_reason;
        alter table marts.fct_attribution drop column revenue_credit;
    """,
    )
    with psycopg.connect(world) as conn:
        report = build_report(conn, W46)
    assert report.unavailable == {
        "pipeline": "marts.fct_opportunities has not been built yet",
        "sla": "marts.rpt_lead_handoff has not been built yet",
        "attribution": "marts.fct_attribution has no revenue_credit yet",
        "rejections": "marts.fct_funnel has no disqualification_reason yet",
        "handoff": "marts.rpt_lead_handoff has not been built yet",
    }
    assert report.lead_quality  # what its metrics read is there
    rendered = render_report(report)
    html = rendered.html
    assert "Not available yet: marts.fct_opportunities has not been built yet" in html
    assert "Not available yet: marts.fct_attribution has no revenue_credit yet" in html
    assert "ROAS not available yet" in html
    (mqls,) = one(
        world,
        "select count(*) from marts.fct_funnel "
        "where mql_at >= '2026-11-09' and mql_at < '2026-11-16'",
    )
    assert f">{mqls}</td>" in html  # what exists still shows
    assert [c.cid.split(".")[0] for c in rendered.charts] == ["funnel", "trend", "spend"]
    assert not any("attribution" in name for name in rendered.csvs)
    assert rendered.pdf.startswith(b"%PDF")


def test_no_marts_at_all_is_a_clear_error(fresh_db: str) -> None:
    with psycopg.connect(fresh_db) as conn, pytest.raises(ReportError, match="revops transform"):
        build_report(conn, W46)


def test_a_period_without_data_says_so(world: str) -> None:
    with psycopg.connect(world) as conn:
        rendered = render_report(build_report(conn, parse_period("2027-W10")), with_pdf=False)
    assert "No data for 2027-W10" in rendered.html and "No data for 2027-W10" in rendered.text
    assert rendered.images == {} and "cid:" not in rendered.html


def test_the_csv_attachments_hold_the_tables_unformatted(world: str) -> None:
    with psycopg.connect(world) as conn:
        report = build_report(conn, W46)
    rendered = render_report(report, with_pdf=False)
    assert sorted(rendered.csvs) == sorted(
        f"revops-2026-W46-{n}.csv"
        for n in (
            "headline",
            "attribution_by_channel",
            "funnel",
            "funnel_conversion",
            "spend_roas_by_channel",
            "lead_quality_by_channel",
            "lead_rejections_by_reason",
            "handoff_by_owner",
        )
    )
    headline = list(csv.DictReader(io.StringIO(rendered.csvs["revops-2026-W46-headline.csv"])))
    by_metric = {row["metric"]: row for row in headline}
    won = report.kpi("won_revenue")
    assert float(by_metric["won_revenue"]["current"]) == pytest.approx(won.current)
    assert by_metric["won_revenue"]["unit"] == "USD"
    rows = list(
        csv.DictReader(io.StringIO(rendered.csvs["revops-2026-W46-attribution_by_channel.csv"]))
    )
    assert sum(float(r["attributed_revenue_usd"]) for r in rows if r["model"] == "markov") == (
        pytest.approx(won.current)
    )


def test_the_pdf_is_the_same_report_with_its_charts_and_is_reproducible(gated: str) -> None:
    with psycopg.connect(gated) as conn:
        report = build_report(conn, W46)
    first, second = render_report(report), render_report(report)
    assert first.pdf.startswith(b"%PDF-") and first.pdf == second.pdf
    assert first.pdf.count(b"/Subtype /Image") == len(first.charts) == 4
    assert first.pdf_filename == "revops-weekly-2026-W46.pdf"


def test_the_footer_lists_the_gates_warnings(gated: str, tmp_path: Path) -> None:
    archived = archive_report(psycopg.connect(gated), W46, tmp_path)
    html = archived.html_path.read_text()
    assert "Quality gate passed at" in html and "with 1 warning(s):" in html
    # in the readers' words; dbt's test name and message stay in the gate run, not the e-mail
    sentence = "Ad spend (daily): platform conversions is empty on 3 of 1,512 rows (0.2%)"
    assert f"Warning: {sentence}" in html
    for technical in ("not_null_fct_ad_spend_daily", "configured to warn", "marts.fct_"):
        assert technical not in html
    with psycopg.connect(gated) as conn:
        [failures] = conn.execute("select failures from revops_meta.gate_runs").fetchone()
    assert failures[0]["check"] == "dbt.not_null_fct_ad_spend_daily_platform_conversions"
    assert failures[0]["plain"] == sentence
    assert archived.pdf_path == tmp_path / "reports" / "weekly" / "2026-W46.pdf"
    assert archived.pdf_path.read_bytes().startswith(b"%PDF")


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
        received = catcher.messages()
    assert [m["Subject"] for m in received] == ["hi", "hi"]
    assert received[0]["X-RcptTo"] == "a@example.com"


# -- sending --------------------------------------------------------------------------------


def test_the_received_message_has_text_html_inline_images_pdf_and_csvs(
    gated: str, catcher: MailCatcher, tmp_path: Path
) -> None:
    with psycopg.connect(gated) as conn:
        result = send_report(conn, W46, settings_for(catcher), "run-1", tmp_path / "out")
    assert result.already_sent is False
    [message] = catcher.messages()
    assert message["Subject"] == "revops weekly report 2026-W46"
    assert message["Message-ID"] == result.message_id
    assert message["X-RcptTo"] == ", ".join(RECIPIENTS)
    assert message.get_content_type() == "multipart/mixed"
    body, *attachments = message.get_payload()
    assert body.get_content_type() == "multipart/alternative"
    text_part, related = body.get_payload()
    assert text_part.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    html = html_part.get_content()
    referenced = re.findall(r'src="cid:([^"]+)"', html)
    assert len(images) == 4 and {p["Content-ID"].strip("<>") for p in images} == set(referenced)
    for part in images:
        assert part.get_content_type() == "image/png"
        assert part.get_content_disposition() == "inline"
        assert part.get_content().startswith(b"\x89PNG")
    pdf, *csvs = attachments
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == "revops-weekly-2026-W46.pdf"
    assert pdf.get_content_disposition() == "attachment"
    assert pdf.get_content().startswith(b"%PDF")
    assert {p.get_content_type() for p in csvs} == {"text/csv"} and len(csvs) == 8
    assert tuple(result.attachments) == (pdf.get_filename(), *(p.get_filename() for p in csvs))
    won = expected_headline(gated, W46)["won_revenue"]
    assert f">{usd(won)}</td>" in html and usd(won) in text_part.get_content()
    saved = tmp_path / "out" / "reports" / "weekly" / "2026-W46.html"
    assert result.html_path == saved and result.pdf_path == saved.with_suffix(".pdf")
    assert "data:image/png;base64," in saved.read_text() and "cid:" not in saved.read_text()


def test_build_message_without_images_or_attachments_is_text_and_html_only() -> None:
    rendered = RenderedReport(html="<p>no data</p>", text="no data", images={})
    message = build_message(rendered, parse_period("2026-11"), SENDER, RECIPIENTS)
    assert message["Subject"] == "revops monthly report 2026-11"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.get_payload()] == ["text/plain", "text/html"]


def test_write_report_archives_html_and_pdf_without_sending(
    world: str, catcher: MailCatcher, tmp_path: Path
) -> None:
    with psycopg.connect(world) as conn:
        path = write_report(conn, parse_period("2026-11"), tmp_path)
    assert path == tmp_path / "reports" / "monthly" / "2026-11.html"
    assert path.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    html = path.read_text()
    assert "Monthly report 2026-11" in html and html.count("data:image/png;base64,") == 4
    assert "no run recorded for this period" in html
    assert catcher.messages() == []


def _sends(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select edition, period, run_key, message_id, recipients, subject, sent_at, "
            "gate_run_id, attachments from revops_meta.report_sends order by sent_at"
        ).fetchall()


def test_the_same_run_key_sends_once_and_a_new_one_sends_again(
    gated: str, catcher: MailCatcher, tmp_path: Path
) -> None:
    settings = settings_for(catcher)
    with psycopg.connect(gated) as conn:
        first = send_report(conn, W46, settings, "scheduled", tmp_path)
        again = send_report(conn, W46, settings, "scheduled", tmp_path)
    assert (first.already_sent, again.already_sent) == (False, True)
    assert again.message_id == first.message_id and again.sent_at == first.sent_at
    assert len(catcher.messages()) == 1
    [row] = _sends(gated)
    assert row[:6] == (
        "weekly",
        "2026-W46",
        "scheduled",
        first.message_id,
        list(RECIPIENTS),
        "revops weekly report 2026-W46",
    )
    assert row[6] is not None and row[7] == first.gate_run_id and row[7] is not None
    assert row[8][0] == "revops-weekly-2026-W46.pdf"

    with psycopg.connect(gated) as conn:
        rerun = send_report(conn, W46, settings, "revops_publish/manual__2026-11-17", tmp_path)
    assert rerun.already_sent is False and rerun.message_id != first.message_id
    assert len(catcher.messages()) == 2


def test_concurrent_sends_with_one_run_key_deliver_one_message(
    gated: str, catcher: MailCatcher, tmp_path: Path
) -> None:
    settings = settings_for(catcher)
    start = threading.Barrier(3)
    results: list = []

    def send() -> None:
        with psycopg.connect(gated) as conn:
            start.wait()
            results.append(send_report(conn, W46, settings, "race", tmp_path))

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 3
    assert sorted(r.already_sent for r in results) == [False, True, True]
    assert len({r.message_id for r in results}) == 1
    assert len(catcher.messages()) == 1
    assert len(_sends(gated)) == 1


def test_a_period_whose_gate_has_not_passed_is_not_sent(
    world: str, catcher: MailCatcher, tmp_path: Path
) -> None:
    settings = settings_for(catcher)
    with psycopg.connect(world) as conn:
        with pytest.raises(
            GateNotPassed, match="no quality gate run is recorded for the weekly report 2026-W46"
        ):
            send_report(conn, W46, settings, "run-1", tmp_path)
        record_gate(world, W46, passed=True)
        record_gate(
            world,
            W46,
            passed=False,
            failures=[
                Failure(
                    "raw_mailchimp._dlt_loads",
                    "offending_rows_expectation",
                    "newest load",
                    "blocking",
                    "1 offending row",
                    "a load at most 36 h old",
                    "raw_mailchimp.freshness",
                )
            ],
        )
        with pytest.raises(GateNotPassed) as refused:
            send_report(conn, W46, settings, "run-1", tmp_path)
    message = str(refused.value)
    assert "has not passed for the weekly report 2026-W46" in message
    assert "raw_mailchimp.freshness on raw_mailchimp._dlt_loads" in message
    assert catcher.messages() == [] and _sends(world) == []


def test_a_failed_send_records_nothing_and_stays_retryable(gated: str, tmp_path: Path) -> None:
    catcher = MailCatcher(tmp_path / "box").start()
    port = catcher.port
    catcher.stop()  # nobody listens on the port now
    with psycopg.connect(gated) as conn:
        with pytest.raises(ReportSendError, match=f"127.0.0.1:{port}"):
            send_report(conn, W46, settings_for(catcher, port=port), "run-1", tmp_path)
        assert _sends(gated) == []
        with MailCatcher(tmp_path / "box") as running:
            result = send_report(conn, W46, settings_for(running), "run-1", tmp_path)
            assert result.already_sent is False
            assert len(running.messages()) == 1
    assert len(_sends(gated)) == 1


def test_send_report_refuses_a_connection_inside_a_transaction(
    gated: str, catcher: MailCatcher, tmp_path: Path
) -> None:
    with psycopg.connect(gated) as conn:
        conn.execute("select 1")
        assert conn.info.transaction_status != TransactionStatus.IDLE
        with pytest.raises(ValueError, match="no open transaction"):
            send_report(conn, W46, settings_for(catcher), "run-1", tmp_path)
    assert catcher.messages() == []


# -- TLS, credentials, settings -------------------------------------------------------------

PASSWORD = "pa55-Very-Secret"


def test_starttls_and_login_are_used_and_a_wrong_password_is_not_revealed(
    gated: str, tmp_path: Path
) -> None:
    # a relay whose certificate a private CA signed (the simulator's CA: the same files)
    files = ensure_certificates(tmp_path / "tls")
    with MailCatcher(
        tmp_path / "box", credentials=("reports", PASSWORD), tls=(files.cert, files.key)
    ) as catcher:
        tls = {"starttls": True, "ca_file": str(files.ca_bundle), "user": "reports"}
        wrong = settings_for(catcher, **tls, password=PASSWORD + "-typo")
        with psycopg.connect(gated) as conn:
            with pytest.raises(ReportSendError) as err:
                send_report(conn, W46, wrong, "run-1", tmp_path)
            assert "535" in str(err.value) and "reports" in str(err.value)
            assert PASSWORD not in str(err.value) and PASSWORD not in repr(err.value)
            untrusted = settings_for(catcher, **{**tls, "ca_file": None}, password=PASSWORD)
            with pytest.raises(ReportSendError, match="CERTIFICATE_VERIFY_FAILED"):
                send_report(conn, W46, untrusted, "run-1", tmp_path)
            send_report(
                conn, W46, settings_for(catcher, **tls, password=PASSWORD), "run-1", tmp_path
            )
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
    assert (
        SmtpSettings.from_env(_env(REVOPS_SMTP_STARTTLS="false", REVOPS_SMTP_SSL="true")).port
        == 465
    )
    assert SmtpSettings.from_env(_env(REVOPS_SMTP_PORT="2525")).port == 2525


def test_editions_and_alerts_have_their_own_recipients() -> None:
    env = _env(
        REVOPS_REPORT_RECIPIENTS_MONTHLY="board@example.com",
        REVOPS_ALERT_RECIPIENTS="oncall@example.com, data@example.com",
    )
    assert SmtpSettings.from_env(env, edition="weekly").recipients == RECIPIENTS
    assert SmtpSettings.from_env(env, edition="monthly").recipients == ("board@example.com",)
    alerts = SmtpSettings.from_env(env, alerts=True)
    assert alerts.recipients == ("oncall@example.com", "data@example.com")
    assert alerts.sender == "Revops <revops@example.com>"
    with pytest.raises(SmtpConfigError, match="REVOPS_ALERT_RECIPIENTS"):
        SmtpSettings.from_env(_env(), alerts=True)


def test_an_airflow_smtp_connection_stands_for_the_variables() -> None:
    env = environ_from_connection(
        "smtp.example.com",
        2525,
        "reports",
        PASSWORD,
        {
            "starttls": True,
            "sender": "revops@example.com",
            "recipients": ["ceo@example.com", "cmo@example.com"],
            "unknown": "x",
        },
    )
    settings = SmtpSettings.from_env(env)
    assert (settings.host, settings.port, settings.user, settings.starttls) == (
        "smtp.example.com",
        2525,
        "reports",
        True,
    )
    assert settings.recipients == RECIPIENTS and settings.password == PASSWORD


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
        ({"REVOPS_SMTP_CA_FILE": "/no/such/ca.pem"}, "REVOPS_SMTP_CA_FILE"),
    ],
)
def test_settings_errors_name_the_variable_never_the_password(
    overrides: dict[str, str], named: str
) -> None:
    with pytest.raises(SmtpConfigError) as err:
        SmtpSettings.from_env(_env(**overrides))
    assert named in str(err.value)
    assert PASSWORD not in str(err.value)
