"""Every connector against the vendor simulator into a real PostgreSQL: nothing lost, nothing
doubled, whatever happens on the way.

For each of the six systems:

* a full load equals the simulator's own records (counts per stream and a content check), and
  a second run with no changes leaves every table exactly as it was;
* after the simulated clock moves on (records created, updated, deleted; ad days restated) a
  run leaves the warehouse matching the simulator, deleted records kept and flagged;
* a run through at least 10% injected faults (throttling with and without ``Retry-After``, 500s,
  dropped connections, truncated bodies, slow answers) ends with exactly the clean run's tables;
* a run that dies mid-stream (the client gives up on a fault, or the process is killed) and is
  rerun ends with exactly the clean run's tables.

"Exactly" compares every row and column of every ``raw_<system>`` table (dlt's own load
columns aside) with the tables of a clean load of the same simulated instant.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from revops.simulator import Company, FaultConfig, SimulatorServer
from revops.sources import SYSTEMS, run_extract
from revops.sources.http import SourceError

SEED = 7
SCALE = 0.02
AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
LATER = AS_OF + timedelta(days=4, hours=5)
# ad platforms read history from here (instead of a year back) to keep the tests quick
HISTORY_START = (AS_OF - timedelta(days=30)).date()


# -- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=SEED, scale=SCALE, as_of=AS_OF)


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tls")


# a fault that never fires: the simulator counts requests only while a fault plan is active
COUNTING = FaultConfig(rate_limit_every=10**9)


@pytest.fixture(scope="module")
def server(company, tls_dir) -> Iterator[SimulatorServer]:
    with SimulatorServer(company, cert_dir=tls_dir, faults=COUNTING) as running:
        yield running


class Databases:
    """New empty databases on the test server, dropped at the end of the module."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.names: list[str] = []

    def new(self) -> str:
        name = f"revops_src_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self._url("postgres"), autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        self.names.append(name)
        return self._url(name)

    def _url(self, name: str) -> str:
        return urlunsplit(urlsplit(self.server_url)._replace(path=f"/{name}"))

    def drop_all(self) -> None:
        with psycopg.connect(self._url("postgres"), autocommit=True) as conn:
            for name in self.names:
                conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="module")
def databases(server_url) -> Iterator[Databases]:
    made = Databases(server_url)
    yield made
    made.drop_all()


@contextmanager
def pointed_at(
    server: SimulatorServer, home: Path, history_start: date = HISTORY_START, **extra: str
) -> Iterator[None]:
    """The environment of a connector run against ``server`` with dlt state under ``home``
    (ad platforms read history from ``history_start``; ``extra``: more settings). The one
    copy for every test that runs connectors against the simulator."""
    env = {
        **server.env(),
        "REVOPS_HOME": str(home),
        "REVOPS_HTTP_BASE_DELAY": "0.01",
        "REVOPS_HTTP_MAX_DELAY": "5",
        **{
            f"REVOPS_{system.upper()}_START_DATE": history_start.isoformat()
            for system in ("google_ads", "meta_ads", "linkedin_ads")
        },
        **extra,
    }
    with mock.patch.dict(os.environ, env):
        yield


def extract(system: str, url: str, server: SimulatorServer, home: Path, **extra: str):
    """One run of one connector up to the simulator's clock."""
    with pointed_at(server, home, **extra):
        return run_extract(system, url, until=server.company.as_of)


Snapshot = dict[str, tuple[tuple[str, ...], list[tuple]]]


def raw_columns(conn: psycopg.Connection, schema: str) -> dict[str, tuple[str, ...]]:
    """The tables of a raw schema and their columns, dlt's own tables and load columns left
    out, in name order."""
    found: dict[str, tuple[str, ...]] = {}
    for table, column in conn.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = %s and table_name not like '\\_dlt%%' "
        "and column_name not like '\\_dlt%%' order by 1, 2",
        (schema,),
    ):
        found[table] = (*found.get(table, ()), column)
    return found


def snapshot(url: str, system: str) -> Snapshot:
    """Every row of every table of ``raw_<system>`` (dlt's load columns aside), sorted."""
    out: Snapshot = {}
    with psycopg.connect(url) as conn:
        for table, columns in raw_columns(conn, f"raw_{system}").items():
            select = ", ".join(f'"{c}"::text' for c in columns)
            rows = conn.execute(f'select {select} from raw_{system}."{table}"').fetchall()
            out[table] = (columns, sorted(rows, key=lambda r: tuple(v or "" for v in r)))
    return out


def counts(snap: Snapshot) -> dict[str, int]:
    """Rows per table of a snapshot."""
    return {table: len(rows) for table, (_, rows) in snap.items()}


def column(snap: Snapshot, table: str, name: str) -> list:
    """One column's values of a snapshot table."""
    columns, rows = snap[table]
    at = columns.index(name)
    return [row[at] for row in rows]


class Clean:
    """A clean load per system at ``AS_OF``: its tables and the requests it took (cached)."""

    def __init__(self, databases: Databases, server: SimulatorServer, home: Path) -> None:
        self.databases, self.server, self.home = databases, server, home
        self.loads: dict[str, tuple[str, Snapshot, int]] = {}

    def __call__(self, system: str) -> tuple[str, Snapshot, int]:
        if system not in self.loads:
            url = self.databases.new()
            before = self.server.simulator.request_counts[system]
            extract(system, url, self.server, self.home / system)
            requests = self.server.simulator.request_counts[system] - before
            self.loads[system] = (url, snapshot(url, system), requests)
        return self.loads[system]


@pytest.fixture(scope="module")
def clean(databases, server, tmp_path_factory) -> Clean:
    return Clean(databases, server, tmp_path_factory.mktemp("clean"))


# -- what the simulator holds ------------------------------------------------------------------


def _last_days(company: Company, days: int) -> list:
    """The ``days`` full days before the window's end (the connector reads up to the UTC day),
    from the history start on."""
    end = company.as_of.date()
    return [
        end - timedelta(days=i)
        for i in range(1, days + 1)
        if end - timedelta(days=i) >= HISTORY_START
    ]


def _window(company: Company) -> set:
    return set(_last_days(company, 366))


def _created(items, company: Company) -> list:
    return [item for item in items if item.created_ms < company.as_of_ms]


def expected_counts(company: Company, system: str) -> dict[str, int]:
    """Rows per table a full load at ``company.as_of`` must give: the simulator's own records
    (deleted and archived ones included: they stay in the warehouse, flagged)."""
    if system == "hubspot":
        crm = company.crm
        live_deals = {d.id for d in crm.deals}
        return {
            "contacts": len(company.contacts) + len(company.archived_contacts),
            "companies": len(crm.companies),
            "deals": len(crm.deals) + len(crm.archived_deals),
            "deal_stage_history": sum(len(d.history.get("dealstage", [])) for d in crm.deals),
            "deal_contacts": sum(
                len(contacts) for deal, contacts in crm.deal_contacts.items() if deal in live_deals
            ),
            "owners": len(crm.owners),
        }
    if system == "salesforce":
        from revops.sources.salesforce import table_name

        return {table_name(sobject): len(rows) for sobject, rows in company.crm.sf.items()}
    if system == "google_ads":
        window = _window(company)
        return {
            "customers": 1,
            "campaigns": len(company.ad_campaigns),
            "ad_groups": len(company.ad_groups),
            "campaign_daily": len(
                {(r.date, r.campaign_id) for r in company.ad_daily if r.date in window}
            ),
            "click_views": sum(len(company.clicks_on(day)) for day in _last_days(company, 89)),
        }
    if system == "meta_ads":
        social = company.social
        return {
            "ad_accounts": 1,
            "campaigns": len(_created(social.meta_campaigns, company)),
            "ad_sets": len(_created(social.meta_adsets, company)),
            "ads": len(_created(social.meta_ads, company)),
            "ad_insights": len(_reported(company, social.meta_daily)),
        }
    if system == "linkedin_ads":
        social = company.social
        return {
            "ad_accounts": 1,
            "campaign_groups": len(_created(social.linkedin_groups, company)),
            "campaigns": len(_created(social.linkedin_campaigns, company)),
            "campaign_analytics": len(_reported(company, social.linkedin_daily)),
        }
    if system == "mailchimp":
        sent = [c for c in company.email_campaigns if c.status == "sent"]
        return {
            "lists": 1,
            "members": len(company.members),
            "campaigns": len(sent),
            "reports": len(sent),
            "email_activity": len(company.email_events),
        }
    raise ValueError(system)


def _assert_spend(values, rows) -> None:
    """The warehouse's spend (decimal strings) is the simulator's ``spend_micros`` of ``rows``,
    within half a cent a row (the vendors round each row's money to cents)."""
    expected = Decimal(sum(r.spend_micros for r in rows)) / 1_000_000
    assert abs(_decimal_sum(values) - expected) < len(rows) * Decimal("0.005")


def _decimal_sum(values) -> Decimal:
    return sum((Decimal(v) for v in values if v is not None), Decimal(0))


def _reported(company: Company, daily: list) -> list:
    """The simulator's daily ad rows a platform reports for the window: its days, with
    impressions (the platforms send no row without)."""
    window = _window(company)
    return [r for r in daily if r.day in window and r.impressions > 0]


SOCIAL_CHECKS = {
    # system: the simulator's daily rows, the raw table, (a counted column, the simulator's
    # field), the money column, columns with one known value
    "meta_ads": (
        "meta_daily",
        "ad_insights",
        ("impressions", "impressions"),
        "spend",
        {"account_currency": {"EUR"}, "account_timezone": {"Europe/Berlin"}},
    ),
    # LinkedIn's ``clicks`` are clicks on the ad's link (the simulator's link_clicks)
    "linkedin_ads": (
        "linkedin_daily",
        "campaign_analytics",
        ("clicks", "link_clicks"),
        "cost_in_local_currency",
        {"account_currency": {"USD"}},
    ),
}


def check_content(company: Company, system: str, snap: Snapshot) -> None:
    """Values, not just counts: money with its currency, ids, deletions as the simulator has
    them."""
    if system == "hubspot":
        crm = company.crm
        assert sorted(column(snap, "contacts", "email")) == sorted(
            str(c.values.get("email")) for c in [*company.contacts, *company.archived_contacts]
        )
        assert column(snap, "contacts", "archived").count("true") == len(company.archived_contacts)
        amounts = {
            (d.id, str(d.values.get("amount")), d.values.get("deal_currency_code"))
            for d in crm.deals
        }
        landed = set(
            zip(
                column(snap, "deals", "id"),
                column(snap, "deals", "amount"),
                column(snap, "deals", "deal_currency_code"),
                strict=True,
            )
        )
        assert amounts <= landed
    elif system == "salesforce":
        sf = company.crm.sf
        for sobject, table in (("Lead", "lead"), ("Task", "task"), ("Opportunity", "opportunity")):
            deleted = sum(1 for r in sf[sobject] if r.deleted)
            assert column(snap, table, "is_deleted").count("true") == deleted, sobject
        money = {
            (r.id, Decimal(str(r.fields["Amount"])), r.fields["CurrencyIsoCode"])
            for r in sf["Opportunity"]
            if r.fields.get("Amount") is not None
        }
        landed = {
            (i, Decimal(a), c)
            for i, a, c in zip(
                column(snap, "opportunity", "id"),
                column(snap, "opportunity", "amount"),
                column(snap, "opportunity", "currency_iso_code"),
                strict=True,
            )
            if a is not None
        }
        assert money == landed
        statuses = [
            r.fields["NewValue"] for r in sf["LeadHistory"] if r.fields["Field"] == "Status"
        ]
        landed_statuses = [
            v
            for f, v in zip(
                column(snap, "lead_history", "field"),
                column(snap, "lead_history", "new_value"),
                strict=True,
            )
            if f == "Status"
        ]
        assert sorted(map(str, statuses)) == sorted(landed_statuses)
    elif system == "google_ads":
        window = _window(company)
        cost = sum(int(v) for v in column(snap, "campaign_daily", "metrics__cost_micros"))
        assert cost == sum(r.cost_micros for r in company.ad_daily if r.date in window)
        assert set(column(snap, "campaign_daily", "customer__currency_code")) == {
            company.currency_code
        }
        gclids = {c.gclid for day in _last_days(company, 89) for c in company.clicks_on(day)}
        assert set(column(snap, "click_views", "click_view__gclid")) == gclids
    elif system in SOCIAL_CHECKS:
        daily, table, (counted, field), money, fixed = SOCIAL_CHECKS[system]
        rows = _reported(company, getattr(company.social, daily))
        assert sum(int(v) for v in column(snap, table, counted)) == sum(
            getattr(r, field) for r in rows
        )
        _assert_spend(column(snap, table, money), rows)
        for name, values in fixed.items():
            assert set(column(snap, table, name)) == values
    elif system == "mailchimp":
        assert sorted(column(snap, "members", "email_address")) == sorted(
            m.email for m in company.members
        )
        clicks = [e for e in company.email_events if e.action == "click"]
        assert column(snap, "email_activity", "action").count("click") == len(clicks)
    else:
        raise ValueError(system)


def check_later(
    company: Company, system: str, before: Snapshot, after: Snapshot, fresh: Snapshot
) -> None:
    """After the clock moved on: what a fresh full load sees is in the warehouse, row for row
    (updates applied, deletes flagged), the rows only the warehouse has are history the vendor
    no longer serves, and the simulator's own records are all there."""
    assert after != before, "the clock moved but nothing changed"
    for table, (all_columns, all_rows) in fresh.items():
        # Roll-ups the vendor recomputes without moving the record's cursor, as the real APIs
        # do: Mailchimp's member open/click rates (``last_changed`` stays), Salesforce's
        # ``LastActivityDate`` (``SystemModstamp`` stays). Incremental reads keep them as of the
        # record's last change; staging derives them from the activity rows instead.
        keep = [
            i
            for i, c in enumerate(all_columns)
            if not (system == "mailchimp" and table == "members" and c.startswith("stats__"))
            and not (system == "salesforce" and c == "last_activity_date")
        ]
        columns = tuple(all_columns[i] for i in keep)
        rows = [tuple(row[i] for i in keep) for row in all_rows]
        have_columns, have_rows = after[table]
        at = [have_columns.index(c) for c in columns]
        projected = {tuple(row[i] for i in at) for row in have_rows}
        missing = [row for row in rows if row not in projected]
        if missing:
            key = columns.index("id") if "id" in columns else 0
            stale = [r for r in have_rows if r[have_columns.index(columns[key])] == missing[0][key]]
            diff = {
                c: (missing[0][i], stale[0][at[i]])
                for i, c in enumerate(columns)
                if stale and missing[0][i] != stale[0][at[i]]
            }
            raise AssertionError(f"{table}: {len(missing)} rows differ from a fresh load: {diff}")
    truth = expected_counts(company, system)
    for table, count in truth.items():
        assert counts(after)[table] >= count, table


# -- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_full_load_equals_the_simulator_and_a_rerun_changes_nothing(
    system, company, server, clean, databases, tmp_path
) -> None:
    url, first, _ = clean(system)
    truth = expected_counts(company, system)
    assert {t: n for t, n in counts(first).items() if t in truth} == truth
    check_content(company, system, first)
    # every loaded table leaves the run with planner statistics (dbt reads them next)
    with psycopg.connect(url) as conn:
        analyzed = {
            table
            for (table,) in conn.execute(
                "select relname from pg_stat_user_tables "
                "where schemaname = %s and last_analyze is not null",
                (f"raw_{system}",),
            )
        }
    assert {t for t, n in counts(first).items() if n} - {"_rejected"} <= analyzed
    # no index on dlt's random row id slows the COPY down (create_indexes=False)
    with psycopg.connect(url) as conn:
        on_row_id = conn.execute(
            "select indexname from pg_indexes where schemaname = %s and indexdef like %s",
            (f"raw_{system}", "%_dlt_id%"),
        ).fetchall()
    assert on_row_id == []
    extract(system, url, server, clean.home / system)  # same window again
    assert snapshot(url, system) == first


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_later_run_applies_updates_and_deletes(system, databases, tls_dir, tmp_path) -> None:
    earlier = Company.generate(seed=SEED, scale=SCALE, as_of=AS_OF)
    url = databases.new()
    with SimulatorServer(earlier, cert_dir=tls_dir) as moving:
        extract(system, url, moving, tmp_path)
        before = snapshot(url, system)
        later = moving.set_as_of(LATER)
        extract(system, url, moving, tmp_path)
        after = snapshot(url, system)
        fresh_url = databases.new()
        extract(system, fresh_url, moving, tmp_path / "fresh")
        fresh = snapshot(fresh_url, system)
    check_later(later, system, before, after, fresh)


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_run_through_injected_faults_ends_equal_to_the_clean_run(
    system, company, clean, databases, tls_dir, tmp_path
) -> None:
    _, expected, _ = clean(system)
    faults = FaultConfig(rate=0.3, seed=SEED, retry_after=1, slow_seconds=0.05)
    url = databases.new()
    with SimulatorServer(company, cert_dir=tls_dir, faults=faults) as faulty:
        extract(system, url, faulty, tmp_path)
        plan = faulty.simulator.faults
        seen = faulty.simulator.request_counts[system]
    injected = sum(plan.injected.values())
    assert injected >= 0.1 * seen, (injected, seen, plan.injected)
    assert snapshot(url, system) == expected


@pytest.mark.parametrize("system", ["hubspot", "google_ads"])
def test_a_run_that_gives_up_midway_is_rerun_to_the_clean_result(
    system, company, clean, databases, tls_dir, tmp_path
) -> None:
    _, expected, _ = clean(system)
    url = databases.new()
    faults = FaultConfig(rate=0.25, seed=SEED + 1, kinds=("server_error", "reset", "truncated"))
    with SimulatorServer(company, cert_dir=tls_dir, faults=faults) as failing:
        with pytest.raises(SourceError) as err:
            extract(system, url, failing, tmp_path, REVOPS_HTTP_MAX_ATTEMPTS="1")
    assert err.value.system == system and "gave up after 1 attempts" in str(err.value)
    with SimulatorServer(company, cert_dir=tls_dir) as healthy:
        extract(system, url, healthy, tmp_path)
    assert snapshot(url, system) == expected


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_killed_run_is_rerun_to_the_clean_result(
    system, company, clean, databases, tls_dir, tmp_path
) -> None:
    _, expected, requests = clean(system)
    url = databases.new()
    slow = FaultConfig(rate=1.0, seed=SEED, kinds=("slow",), slow_seconds=0.1)
    code = (
        "import sys; from datetime import datetime; from revops.sources import run_extract; "
        f"run_extract({system!r}, {url!r}, until=datetime.fromisoformat({AS_OF.isoformat()!r}))"
    )
    with SimulatorServer(company, cert_dir=tls_dir, faults=slow) as sluggish:
        with pointed_at(sluggish, tmp_path):
            child = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ))
        target = max(2, requests // 2)  # about half way through the clean run's requests
        deadline = time.monotonic() + 120
        while sluggish.simulator.request_counts[system] < target and child.poll() is None:
            assert time.monotonic() < deadline, "the extract made no progress"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL  # killed mid-stream, not finished
    with SimulatorServer(company, cert_dir=tls_dir) as healthy:
        extract(system, url, healthy, tmp_path)
    assert snapshot(url, system) == expected


def test_a_bad_token_fails_at_once_naming_system_and_stream_not_the_token(
    company, databases, server, tmp_path
) -> None:
    url = databases.new()
    secret = "pat-wrong-secret-123"
    with pytest.raises(SourceError) as err:
        extract(
            "hubspot",
            url,
            server,
            tmp_path,
            REVOPS_HUBSPOT_TOKEN=secret,
            REVOPS_HUBSPOT_REFRESH_TOKEN="",
        )
    message = str(err.value)
    assert message.startswith("hubspot stream 'contacts': HTTP 401")
    assert secret not in message


@pytest.mark.parametrize("system", ["hubspot", "salesforce", "google_ads", "linkedin_ads"])
def test_expiring_oauth_tokens_are_obtained_and_refreshed(
    system, company, clean, databases, tls_dir, tmp_path
) -> None:
    _, expected, _ = clean(system)
    url = databases.new()
    # tokens live 1 s: many expire during the run; a 0.3 s life could end between a refresh and
    # the paced request it was fetched for (HubSpot's search waits 0.25 s between calls), and a
    # token refused right after its refresh fails the run (one refresh per 401, never a loop)
    with SimulatorServer(company, cert_dir=tls_dir, token_lifetime=1.0) as short_lived:
        # no static token: the connector must use the token endpoint, and again on expiry
        extract(system, url, short_lived, tmp_path, **{f"REVOPS_{system.upper()}_TOKEN": ""})
    assert snapshot(url, system) == expected


@pytest.mark.parametrize("system", ["salesforce", "mailchimp"])
def test_a_used_up_daily_quota_ends_the_run_cleanly_and_the_next_run_resumes(
    system, company, server, clean, databases, tmp_path, monkeypatch
) -> None:
    from revops.sources import http

    _, expected, requests = clean(system)
    real = http.ApiClient.request
    allowed = {"left": requests // 2}

    def quota_after_half(self, method, path, stream, **kwargs):
        if allowed["left"] <= 0:
            self.exhausted = http.QuotaExhausted(self.system, stream, 403, "quota exhausted: test")
            raise self.exhausted
        allowed["left"] -= 1
        return real(self, method, path, stream, **kwargs)

    url = databases.new()
    monkeypatch.setattr(http.ApiClient, "request", quota_after_half)
    first = extract(system, url, server, tmp_path)
    assert not first.complete and first.stopped  # ended early, without an error
    partial = counts(snapshot(url, system))
    assert 0 < sum(partial.values()) < sum(counts(expected).values())
    monkeypatch.setattr(http.ApiClient, "request", real)
    extract(system, url, server, tmp_path)  # the next day's run: quota back
    assert snapshot(url, system) == expected


def test_a_malformed_body_fails_the_run_naming_it_and_loads_nothing(
    company, databases, tls_dir, tmp_path
) -> None:
    url = databases.new()
    broken = FaultConfig(rate=0.5, seed=SEED, kinds=("malformed",))
    with SimulatorServer(company, cert_dir=tls_dir, faults=broken) as server:
        with pytest.raises(SourceError) as err:
            extract("hubspot", url, server, tmp_path, REVOPS_HTTP_MAX_ATTEMPTS="1")
    assert "malformed JSON body" in str(err.value) and err.value.system == "hubspot"
    assert snapshot(url, "hubspot") == {}  # the raw tables were never touched
