"""The dated API version lists (revops.sources.versions): names, boundaries, the setting, and that
every connector's default is still served on the simulator's clock."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from revops.simulator.wire import parse_as_of
from revops.sources.versions import (
    VENDORS,
    WARN_BEFORE,
    ApiVersion,
    VendorVersions,
    api_version,
    normalise,
    vendor,
)

SYSTEMS = ("google_ads", "meta_ads", "linkedin_ads", "salesforce")
TODAY = date(2026, 12, 4)


@pytest.mark.parametrize(
    ("system", "given", "expected"),
    [
        ("google_ads", "21", "v21"),
        ("google_ads", "V22", "v22"),
        ("google_ads", " v26 ", "v26"),
        ("meta_ads", "24", "v24.0"),
        ("meta_ads", "v24.0", "v24.0"),
        ("meta_ads", "26.0", "v26.0"),
        ("salesforce", "64", "64.0"),
        ("salesforce", "v62.0", "62.0"),
        ("salesforce", "67.0", "67.0"),
        ("linkedin_ads", " 202610 ", "202610"),
    ],
)
def test_normalise_spells_versions_as_the_list_does(system, given, expected):
    assert normalise(system, given) == expected


def test_every_versioned_vendor_is_registered():
    assert set(VENDORS) == set(SYSTEMS)
    with pytest.raises(KeyError, match="hubspot has no dated API versions"):
        vendor("hubspot")


@pytest.mark.parametrize("system", SYSTEMS)
def test_lists_are_ordered_by_release_and_sunsets_follow_releases(system):
    dated = vendor(system)
    releases = [v.released for v in dated.versions]
    assert releases == sorted(releases)
    assert len({v.name for v in dated.versions}) == len(dated.versions)
    for version in dated.versions:
        assert normalise(system, version.name) == version.name
        assert version.sunset is None or version.sunset > version.released
    assert dated.source.startswith("https://")


def test_supported_and_retired_on_the_sunset_boundary():
    meta = vendor("meta_ads")
    v24 = meta.get("v24.0")
    assert v24 is not None and v24.sunset == date(2026, 11, 10)
    day_before = v24.sunset - timedelta(days=1)
    assert v24 in meta.supported(day_before)
    assert not meta.retired("v24.0", day_before)
    assert v24 not in meta.supported(v24.sunset)
    assert meta.retired("v24", v24.sunset)  # any spelling of the name


def test_supported_starts_on_the_release_day():
    google = vendor("google_ads")
    v26 = google.get("v26")
    assert v26 is not None
    assert v26 not in google.supported(v26.released - timedelta(days=1))
    assert v26 in google.supported(v26.released)


def test_an_unknown_version_is_not_retired_here():
    assert not vendor("google_ads").retired("v99", TODAY)
    assert vendor("google_ads").get("v99") is None


def test_a_version_without_sunset_is_never_retired():
    dated = VendorVersions(
        "google_ads", "v1", (ApiVersion("v1", date(2020, 1, 1)),), "https://example.test"
    )
    assert not dated.retired("v1", date(2099, 1, 1))
    assert [v.name for v in dated.supported(date(2099, 1, 1))] == ["v1"]


@pytest.mark.parametrize("system", SYSTEMS)
def test_api_version_default_is_sent_without_warning(system, monkeypatch, caplog):
    monkeypatch.delenv(f"REVOPS_{system.upper()}_API_VERSION", raising=False)
    with caplog.at_level(logging.WARNING, logger="revops.sources.versions"):
        assert api_version(system, today=TODAY) == vendor(system).default
    assert caplog.records == []


def test_api_version_setting_overrides_the_default_and_warns_when_retired(monkeypatch, caplog):
    monkeypatch.setenv("REVOPS_META_ADS_API_VERSION", "21")
    with caplog.at_level(logging.WARNING, logger="revops.sources.versions"):
        assert api_version("meta_ads", today=TODAY) == "v21.0"
    [record] = caplog.records
    assert "v21.0 was retired on 2025-09-09" in record.getMessage()
    assert "REVOPS_META_ADS_API_VERSION" in record.getMessage()


def test_api_version_warns_before_a_sunset(monkeypatch, caplog):
    monkeypatch.setenv("REVOPS_GOOGLE_ADS_API_VERSION", "v23")
    sunset = vendor("google_ads").get("v23").sunset
    with caplog.at_level(logging.WARNING, logger="revops.sources.versions"):
        assert api_version("google_ads", today=sunset - WARN_BEFORE - timedelta(days=1)) == "v23"
        assert caplog.records == []
        assert api_version("google_ads", today=sunset - WARN_BEFORE) == "v23"
    [record] = caplog.records
    assert f"v23 will be retired on {sunset.isoformat()}" in record.getMessage()


def test_api_version_passes_an_unknown_version_through_silently(monkeypatch, caplog):
    monkeypatch.setenv("REVOPS_SALESFORCE_API_VERSION", "v99")
    with caplog.at_level(logging.WARNING, logger="revops.sources.versions"):
        assert api_version("salesforce", today=TODAY) == "99.0"
    assert caplog.records == []


def _simulator_clock() -> datetime:
    """The simulator's default --as-of: Company.generate's "now", truncated to the minute."""
    return parse_as_of(datetime.now(UTC).replace(second=0, microsecond=0))


@pytest.mark.parametrize("system", SYSTEMS)
def test_each_default_is_served_on_the_simulators_clock(system):
    """Fails when a connector's default is retired on the simulator's default --as-of date (now):
    the next sunset shows here before a user hits it."""
    as_of = _simulator_clock().date()
    dated = vendor(system)
    assert not dated.retired(dated.default, as_of), (
        f"{system}: default {dated.default} is retired on {as_of}; move the default "
        f"(see {dated.source})"
    )
    assert dated.get(dated.default) in dated.supported(as_of)


@pytest.mark.parametrize("system", SYSTEMS)
def test_each_default_is_served_on_every_date_the_suite_simulates(system):
    """The suite runs the simulator from 2026-10-05 (tests/test_incremental_marts.py) onwards: the
    defaults must be released by then and served through today plus the warning window."""
    dated = vendor(system)
    default = dated.get(dated.default)
    assert default.released <= date(2026, 10, 5)
    assert default.sunset is None or default.sunset > TODAY + WARN_BEFORE


def test_dates_read_from_the_vendors_pages():
    """A few dates as printed on the vendors' pages (cited in versions.py), on both sides of their
    boundary: a typo in the tables fails here."""
    cases = [
        ("google_ads", "v22", date(2026, 10, 7)),  # Google's v22 sunset reminder
        ("meta_ads", "v25.0", date(2027, 2, 23)),  # Marketing API version history
        ("linkedin_ads", "202511", date(2026, 11, 16)),  # LinkedIn migrations table
        ("salesforce", "30.0", date(2025, 6, 14)),  # retired as of Summer '25 (final weekend)
    ]
    for system, name, sunset in cases:
        dated = vendor(system)
        assert not dated.retired(name, sunset - timedelta(days=1)), (system, name)
        assert dated.retired(name, sunset), (system, name)


def test_salesforce_numbering_and_retirement_waves():
    salesforce = vendor("salesforce")
    assert salesforce.get("31.0").released.year == 2014  # Summer '14
    assert salesforce.get("67.0").released == date(2026, 6, 13)  # Summer '26
    assert salesforce.get("68.0").released == date(2026, 10, 10)  # Winter '27
    assert salesforce.retired("20.0", TODAY) and salesforce.retired("21.0", TODAY)
    assert not salesforce.retired("31.0", TODAY)  # retired from Summer '28
    assert salesforce.get("40.0").sunset.year == 2028
    assert salesforce.get("41.0").sunset is None


@pytest.mark.parametrize(
    ("system", "minimum"),
    [
        ("linkedin_ads", timedelta(days=365)),  # "a minimum of one year before sunset"
        ("salesforce", timedelta(days=3 * 365)),  # "a minimum of three years"
        ("google_ads", timedelta(days=300)),  # "a lifespan of around 12 months"
    ],
)
def test_each_sunset_keeps_the_vendors_documented_minimum_support(system, minimum):
    for version in vendor(system).versions:
        if version.sunset is not None:
            assert version.sunset - version.released >= minimum, version


def test_meta_keeps_each_version_90_days_after_the_next_release():
    versions = vendor("meta_ads").versions
    for older, newer in zip(versions, versions[1:], strict=False):
        if older.sunset is not None:
            assert older.sunset >= newer.released + timedelta(days=90), older


@pytest.mark.parametrize(
    ("system", "value"),
    [
        ("google_ads", "latest"),
        ("meta_ads", "v26.0.1"),
        ("linkedin_ads", "2026-10"),
        ("salesforce", "sixty-seven"),
    ],
)
def test_a_malformed_version_setting_is_refused_naming_the_variable(system, value, monkeypatch):
    from revops.sources.settings import SettingsError

    variable = f"REVOPS_{system.upper()}_API_VERSION"
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable) as raised:
        api_version(system, today=TODAY)
    assert vendor(system).default in str(raised.value)


@pytest.mark.parametrize("system", SYSTEMS)
def test_every_listed_version_is_spelled_the_vendors_way(system):
    from revops.sources.versions import FORMATS

    pattern, _ = FORMATS[system]
    assert all(pattern.fullmatch(v.name) for v in vendor(system).versions)
