"""Mailchimp: email activity is read only for campaigns that can still change, and cursors
follow the newest record read.

A campaign whose activity has been read up to ``REVOPS_MAILCHIMP_ACTIVITY_DAYS`` after its send
is closed: later incremental runs make no email-activity call for it (checked on the
simulator's own log of the paths it answered) and its rows stay in the warehouse. The first run
and a backfill read every campaign. The members and email-activity cursors sit on the newest
``last_changed`` / event ``timestamp`` read, not on the window's end.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import psycopg
import pytest
from warehouse_checks import new_database

from revops.config import ConfigError
from revops.simulator import Company, SimulatorServer
from revops.simulator.wire import fmt_mailchimp
from revops.sources import run_extract
from revops.sources.mailchimp import DEFAULT_ACTIVITY_DAYS, OVERLAP, activity_days

SEED = 7
SCALE = 0.02
AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
LATER = AS_OF + timedelta(days=3)
DAYS = timedelta(days=DEFAULT_ACTIVITY_DAYS)


@pytest.fixture
def warehouse(server_url: str) -> Iterator[str]:
    with new_database(server_url, "revops_mc") as url:
        yield url


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SimulatorServer]:
    company = Company.generate(seed=SEED, scale=SCALE, as_of=AS_OF)
    with SimulatorServer(company, cert_dir=tmp_path / "tls") as running:
        yield running


def extract(server: SimulatorServer, url: str, home: Path, **kwargs) -> None:
    env = {**server.env(), "REVOPS_HOME": str(home), "REVOPS_HTTP_BASE_DELAY": "0.01"}
    with mock.patch.dict(os.environ, env):
        run_extract("mailchimp", url, streams=["email_activity", "members"], **kwargs)


def activity_calls(server: SimulatorServer) -> Counter[str]:
    """Email-activity requests the simulator answered since it last served a new clock, per
    campaign id."""
    log = server.simulator.apis["mailchimp"].log
    return Counter(
        path.split("/")[2]
        for path in log
        if path.startswith("/reports/") and "email-activity" in path
    )


def warehouse_activity(url: str) -> Counter[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select campaign_id, count(*) from raw_mailchimp.email_activity group by 1"
        ).fetchall()
    return Counter(dict(rows))


def warehouse_events(url: str) -> set[tuple[str, str, str, str]]:
    with psycopg.connect(url) as conn:
        return set(
            conn.execute(
                "select campaign_id, email_id, action, timestamp from raw_mailchimp.email_activity"
            ).fetchall()
        )


def truth(company: Company) -> Counter[str]:
    return Counter(e.campaign_id for e in company.email_events)


def dlt_state(url: str) -> dict:
    from dlt.common.versioned_state import decompress_state

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select state from raw_mailchimp._dlt_pipeline_state "
            "order by created_at desc, version desc limit 1"
        ).fetchone()
    assert row is not None
    return decompress_state(row[0])["sources"]["mailchimp"]["resources"]


def test_a_rerun_makes_no_email_activity_call_for_closed_campaigns_and_keeps_their_rows(
    server: SimulatorServer, warehouse: str, tmp_path: Path
) -> None:
    company = server.company
    sent = [c for c in company.email_campaigns if c.status == "sent"]
    extract(server, warehouse, tmp_path, until=AS_OF)
    first = activity_calls(server)
    assert set(first) == {c.id for c in sent}  # the first run reads every campaign
    assert warehouse_activity(warehouse) == truth(company)

    later = server.set_as_of(LATER)
    extract(server, warehouse, tmp_path, until=LATER)
    second = activity_calls(server)
    cutoff = AS_OF - OVERLAP - DAYS  # read up to AS_OF: closed if sent this long before
    closed = {c.id for c in sent if datetime.fromtimestamp(c.send_ms / 1000, UTC) <= cutoff}
    still_open = {c.id for c in later.email_campaigns if c.status == "sent"} - closed
    assert len(closed) > 40 and len(still_open) >= 4  # not vacuous: both kinds exist
    assert not closed & set(second), "a closed campaign was read again"
    assert set(second) == still_open
    # the closed campaigns' rows are kept; the open ones gained their new events
    loaded = warehouse_activity(warehouse)
    assert loaded == truth(later)
    assert sum(loaded[c] for c in closed) > 0
    assert sum(truth(later)[c] for c in still_open) > sum(truth(company)[c] for c in still_open)


def test_a_backfill_reads_every_campaign_sent_before_its_end_closed_or_not(
    server: SimulatorServer, warehouse: str, tmp_path: Path
) -> None:
    extract(server, warehouse, tmp_path, until=AS_OF)
    server.simulator.apis["mailchimp"].log.clear()
    since, until = AS_OF - timedelta(days=60), AS_OF - timedelta(days=59)
    extract(server, warehouse, tmp_path, since=since, until=until)
    sent_before = {
        c.id
        for c in server.company.email_campaigns
        if c.status == "sent" and c.send_ms < until.timestamp() * 1000
    }
    assert set(activity_calls(server)) == sent_before
    assert warehouse_activity(warehouse) == truth(server.company)  # nothing doubled


def test_cursors_sit_on_the_newest_record_read_not_the_window_end(
    server: SimulatorServer, warehouse: str, tmp_path: Path
) -> None:
    company = server.company
    extract(server, warehouse, tmp_path, until=AS_OF)
    state = dlt_state(warehouse)
    newest_change = max(m.last_changed_ms for m in company.members)
    assert state["members"]["cursors"] == {
        company.list_id: datetime.fromtimestamp(newest_change / 1000, UTC).isoformat()
    }
    newest_event: dict[str, int] = {}
    for e in company.email_events:
        newest_event[e.campaign_id] = max(newest_event.get(e.campaign_id, 0), e.timestamp_ms)
    assert state["email_activity"]["cursors"] == {
        cid: datetime.fromtimestamp(ms / 1000, UTC).isoformat() for cid, ms in newest_event.items()
    }
    assert set(state["email_activity"]["read_to"].values()) == {AS_OF.isoformat()}


def test_opens_that_show_late_are_not_lost_over_several_runs(
    server: SimulatorServer, warehouse: str, tmp_path: Path
) -> None:
    """Mailchimp shows opens up to 30 minutes after they happen: a run right after a send sees
    some of its opens later than newer events; the overlap behind the cursor still reads them."""
    lag = 30 * 60 * 1000
    sent = max(
        (c for c in server.company.email_campaigns if c.status == "sent"), key=lambda c: c.send_ms
    )
    start = datetime.fromtimestamp(sent.send_ms / 1000, UTC)
    hidden = 0
    for after in (timedelta(minutes=20), timedelta(minutes=40), timedelta(hours=2), DAYS / 10):
        moment = start + after
        company = server.set_as_of(moment)
        api = server.simulator.apis["mailchimp"]
        api.open_stats_delay_ms = lag
        late = [e for e in company.email_events if not api._reported(e, lag)]
        hidden += len(late)
        extract(server, warehouse, tmp_path, until=moment)
        shown = {
            (e.campaign_id, e.member_id, e.action, fmt_mailchimp(e.timestamp_ms))
            for e in company.email_events
            if api._reported(e, lag)
        }
        missing = shown - warehouse_events(warehouse)
        assert not missing, f"after {after}: {len(missing)} events lost, e.g. {min(missing)}"
    assert hidden >= 5, "no run saw an open that showed late: the test proves nothing"


def test_the_activity_window_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REVOPS_MAILCHIMP_ACTIVITY_DAYS", raising=False)
    assert activity_days() == DEFAULT_ACTIVITY_DAYS == 30
    monkeypatch.setenv("REVOPS_MAILCHIMP_ACTIVITY_DAYS", "7")
    assert activity_days() == 7
    for bad in ("soon", "0", "-3"):
        monkeypatch.setenv("REVOPS_MAILCHIMP_ACTIVITY_DAYS", bad)
        with pytest.raises(ConfigError, match="REVOPS_MAILCHIMP_ACTIVITY_DAYS"):
            activity_days()


def test_number_fields_are_double_even_when_the_first_values_are_whole(
    server: SimulatorServer, warehouse: str, tmp_path: Path
) -> None:
    """Members whose first stats are whole (JSON ``0``, no decimal point) and later 0.3077 load
    both times: the rates are declared double, not typed bigint from the first value seen."""
    from revops.simulator import mailchimp as simulated

    whole = {"round": lambda value, digits=None: int(value)}  # every rate served as 0 or 1
    with mock.patch.dict(simulated.__dict__, whole):
        extract(server, warehouse, tmp_path, until=AS_OF)
    # the same members again, now with their fractional rates (a backfill re-reads them all)
    extract(server, warehouse, tmp_path, since=AS_OF - timedelta(days=3650), until=AS_OF)
    with psycopg.connect(warehouse) as conn:
        types = dict(
            conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'raw_mailchimp' and table_name = 'members' "
                "and (column_name like 'stats__avg%%' or column_name like 'location__l%%itude')"
            ).fetchall()
        )
        fractions = conn.execute(
            "select count(*) from raw_mailchimp.members "
            "where stats__avg_open_rate > 0 and stats__avg_open_rate < 1"
        ).fetchone()[0]
    assert types == {
        "stats__avg_open_rate": "double precision",
        "stats__avg_click_rate": "double precision",
        "location__latitude": "double precision",
        "location__longitude": "double precision",
    }
    assert fractions > 0  # the second run's fractions were loaded
