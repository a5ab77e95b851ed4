"""HubSpot properties by configuration: the connector reads the default set the marts need plus
an allow-list per object, never every property the portal lists (a real portal has hundreds,
each would be a column, and PostgreSQL stops at 1,600). Checked on what the simulator
received, with a portal of 800 custom properties per object.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import psycopg
import pytest

from revops.simulator import Company, SimulatorServer
from revops.simulator.hubspot import PROPERTIES, custom_property_names
from revops.sources import run_extract
from revops.sources.hubspot import (
    DECLARED_PROPERTIES,
    SEARCH_BODY_MAX,
    configured_properties,
    longest_search_body,
    search_body,
)
from revops.sources.settings import SettingsError

AS_OF = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
OBJECTS = ("contacts", "companies", "deals")
CUSTOM = 800


@pytest.fixture(scope="module")
def company() -> Company:
    return Company.generate(seed=7, scale=0.02, as_of=AS_OF)


@contextmanager
def portal(company: Company, tmp_path: Path, **env: str) -> Iterator[SimulatorServer]:
    """The simulator with 800 custom properties per object, the connector pointed at it."""
    with SimulatorServer(company, cert_dir=tmp_path / "tls") as server:
        server.simulator.apis["hubspot"].limits.custom_properties = CUSTOM  # type: ignore[attr-defined]
        settings = {**server.env(), "REVOPS_HOME": str(tmp_path / "home"), **env}
        with mock.patch.dict(os.environ, settings):
            yield server


def columns(url: str, table: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw_hubspot' and table_name = %s",
                (table,),
            )
        }


def test_only_configured_properties_are_requested_and_become_columns(
    company, fresh_db, tmp_path
) -> None:
    chosen = custom_property_names(CUSTOM)[:3:2]  # two of the 800
    with portal(
        company,
        tmp_path,
        REVOPS_HUBSPOT_CONTACTS_PROPERTIES=f" {chosen[0]},jobtitle ,{chosen[1]},email",
    ) as server:
        listed = server.simulator.apis["hubspot"].properties("contacts").json()["results"]
        assert len(listed) > CUSTOM  # the portal lists them all
        run_extract("hubspot", fresh_db, until=AS_OF)
        requested = server.simulator.apis["hubspot"].limits.requested  # type: ignore[attr-defined]
    wanted = {
        "contacts": set(DECLARED_PROPERTIES["contacts"]) | {*chosen, "jobtitle"},
        "companies": set(DECLARED_PROPERTIES["companies"]),
        "deals": set(DECLARED_PROPERTIES["deals"]),
    }
    for obj in OBJECTS:
        assert requested[obj], f"{obj}: nothing requested"
        # the history batch reads ask for two of the declared ones; nothing else is ever asked
        assert requested[obj] <= wanted[obj], sorted(requested[obj] - wanted[obj])
    assert requested["contacts"] >= {*chosen, "jobtitle"}
    got = columns(fresh_db, "contacts")
    assert {*chosen, "jobtitle"} <= got
    assert not {c for c in got if c.startswith("custom_field_")} - set(chosen)
    assert len(got) < 60  # far from PostgreSQL's 1,600
    assert not {c for c in columns(fresh_db, "deals") if c.startswith("custom_field_")}


def test_an_allow_listed_property_the_portal_lacks_fails_naming_the_setting(
    company, fresh_db, tmp_path
) -> None:
    with portal(company, tmp_path, REVOPS_HUBSPOT_DEALS_PROPERTIES="custom_field_0001,dealsource"):
        with pytest.raises(SettingsError) as err:
            run_extract("hubspot", fresh_db, until=AS_OF, streams=["deals"])
    message = str(err.value)
    assert "REVOPS_HUBSPOT_DEALS_PROPERTIES" in message and "dealsource" in message
    assert "custom_field_0001" not in message  # that one the portal has


def test_a_malformed_allow_list_is_refused_before_any_request(monkeypatch) -> None:
    monkeypatch.setenv("REVOPS_HUBSPOT_COMPANIES_PROPERTIES", "name,Annual Revenue")
    with pytest.raises(SettingsError) as err:
        configured_properties("companies")
    assert "REVOPS_HUBSPOT_COMPANIES_PROPERTIES" in str(err.value)
    assert "'Annual Revenue'" in str(err.value)
    monkeypatch.delenv("REVOPS_HUBSPOT_COMPANIES_PROPERTIES")
    assert configured_properties("companies") == DECLARED_PROPERTIES["companies"]


def test_the_default_set_has_every_hubspot_column_staging_reads() -> None:
    staging = Path(__file__).parent.parent / "dbt_project/models/staging/hubspot"
    text = (staging / "stg_hubspot__contacts.sql").read_text()
    read = {name for name in PROPERTIES if re.search(rf"\b{name}\b", text)}
    assert {"email", "utm_source", "li_fat_id", "hs_google_click_id"} <= read
    assert read <= set(DECLARED_PROPERTIES["contacts"]), sorted(
        read - set(DECLARED_PROPERTIES["contacts"])
    )


def test_an_allow_list_too_long_for_a_search_body_is_refused_naming_the_setting(
    monkeypatch,
) -> None:
    # HubSpot answers 400 to a search body over 3,000 characters: refuse before any request
    fits = ",".join(f"custom_score_{i:03d}" for i in range(40))  # ~720 characters more
    monkeypatch.setenv("REVOPS_HUBSPOT_DEALS_PROPERTIES", fits)
    names = configured_properties("deals")
    assert len(names) == len(DECLARED_PROPERTIES["deals"]) + 40
    assert longest_search_body("deals", names) <= SEARCH_BODY_MAX
    too_long = ",".join(f"custom_score_{i:03d}" for i in range(200))
    monkeypatch.setenv("REVOPS_HUBSPOT_DEALS_PROPERTIES", too_long)
    with pytest.raises(SettingsError) as err:
        configured_properties("deals")
    message = str(err.value)
    assert "REVOPS_HUBSPOT_DEALS_PROPERTIES" in message and "3000" in message
    size = longest_search_body("deals", DECLARED_PROPERTIES["deals"] + too_long.split(","))
    assert f"about {size} characters" in message


def test_the_search_body_checked_is_the_one_sent() -> None:
    since = datetime(2026, 11, 1, tzinfo=UTC)
    body = search_body("lastmodifieddate", ["email"], since, since, 7, 200, "abc")
    filters = body["filterGroups"][0]["filters"]
    assert [f["operator"] for f in filters] == ["GTE", "LT", "GT"]
    assert filters[0]["value"] == str(int(since.timestamp() * 1000))
    assert body["after"] == "abc" and body["properties"] == ["email"]
