"""Which API version each connector speaks, and until when each vendor serves it: versions as data.

One dated list per vendor (release day, and the first day the vendor no longer serves it), taken
from the vendor's own release / sunset page (cited per vendor in ``source`` and in
DECISIONLOG.md). The connectors read their default from here (``REVOPS_<SYSTEM>_API_VERSION``
overrides it); the simulator reads the same list to serve every version supported on its
``--as-of`` date and to refuse a retired one the way that vendor does. A test fails when a
default is retired as of the simulator's date, so the next sunset shows before a user hits it.

Mailchimp (``3.0``) and HubSpot (``v3``/``v4`` paths) have no dated versions in this list.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta

log = logging.getLogger(__name__)

WARN_BEFORE = timedelta(days=60)
"""How long before a version's sunset a run starts warning about it."""


@dataclass(frozen=True)
class ApiVersion:
    """One API version: its name as sent (``v22``, ``v24.0``, ``202511``, ``64.0``), the day
    the vendor released it and the first day the vendor no longer serves it (None: no date
    announced yet)."""

    name: str
    released: date
    sunset: date | None = None

    def served_on(self, day: date) -> bool:
        """Whether the vendor serves this version on ``day``."""
        return self.released <= day and (self.sunset is None or day < self.sunset)


@dataclass(frozen=True)
class VendorVersions:
    """A vendor's dated versions, the connector's default, and where the dates come from."""

    system: str
    default: str
    versions: tuple[ApiVersion, ...]
    source: str  # the vendor's page the dates come from

    def get(self, name: str) -> ApiVersion | None:
        """The version called ``name`` (None when the list does not know it)."""
        wanted = normalise(self.system, name)
        return next((v for v in self.versions if v.name == wanted), None)

    def supported(self, day: date) -> list[ApiVersion]:
        """Every version the vendor serves on ``day``, oldest first."""
        return [v for v in self.versions if v.served_on(day)]

    def retired(self, name: str, day: date) -> bool:
        """Whether ``name`` is past its sunset on ``day`` (an unknown version is not retired
        here: the vendor decides)."""
        version = self.get(name)
        return version is not None and version.sunset is not None and day >= version.sunset


def normalise(system: str, name: str) -> str:
    """A version as the list spells it: ``21`` -> ``v21`` (Google Ads), ``v62.0`` -> ``62.0``
    (Salesforce), ``24`` -> ``v24.0`` (Meta)."""
    text = name.strip()
    if system == "google_ads":
        return "v" + text.lstrip("vV")
    if system == "meta_ads":
        text = text.lstrip("vV")
        return f"v{text}" if "." in text else f"v{text}.0"
    if system == "salesforce":
        text = text.lstrip("vV")
        return text if "." in text else f"{text}.0"
    return text


FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "google_ads": (re.compile(r"v\d+"), "v25"),
    "meta_ads": (re.compile(r"v\d+\.\d+"), "v26.0"),
    "linkedin_ads": (re.compile(r"20\d\d(0[1-9]|1[0-2])(\.\d\d)?"), "202610 (YYYYMM)"),
    "salesforce": (re.compile(r"\d+\.\d"), "67.0"),
}
"""How each vendor spells a version (after :func:`normalise`), with an example for errors."""

VENDORS: dict[str, VendorVersions] = {}
"""Filled below, one entry per versioned vendor."""


def vendor(system: str) -> VendorVersions:
    """The dated list of ``system`` (KeyError names the versioned systems)."""
    try:
        return VENDORS[system]
    except KeyError:
        known = ", ".join(VENDORS)
        raise KeyError(f"{system} has no dated API versions (known: {known})") from None


def api_version(system: str, today: date | None = None) -> str:
    """The version a connector sends: ``REVOPS_<SYSTEM>_API_VERSION`` or the default here.

    Logs a warning when the vendor's sunset of that version is within :data:`WARN_BEFORE` or
    past (the vendor, not this list, has the last word, so the request is still sent). A value
    that is not spelled like one of the vendor's versions (:data:`FORMATS`) is refused by
    :mod:`revops.settings`, naming the variable; a well-formed version this list does not know
    is sent as it is.
    """
    from revops.sources.settings import env_name, setting

    dated = vendor(system)
    name = setting(system, "api_version")  # normalised and checked by revops.settings
    day = today or date.today()
    found = dated.get(name)
    if found is not None and found.sunset is not None and day + WARN_BEFORE >= found.sunset:
        newer = [v.name for v in dated.supported(day) if v.name != name]
        log.warning(
            "%s: API version %s %s on %s (%s); set %s to a current one (%s)",
            system,
            name,
            "was retired" if day >= found.sunset else "will be retired",
            found.sunset.isoformat(),
            dated.source,
            env_name(system, "api_version"),
            ", ".join(newer[-3:]) or "see the vendor's page",
        )
    return name


def _register(entry: VendorVersions) -> None:
    assert entry.get(entry.default) is not None, f"{entry.system}: default not in its list"
    VENDORS[entry.system] = entry


# -- the dated lists (filled from the vendors' pages; see DECISIONLOG.md) ------------------------
# Each date is marked where it comes from: "read" = printed on the cited vendor page (as of that
# page's snapshot); "projected from <policy URL>" = the page gives only a month or nothing yet, so
# the date follows the vendor's documented cadence and support window. Release days not found on
# a vendor page are marked "unverified" (they only matter for versions long retired).
# A sunset of None = the vendor has announced none ("TBD" on the page). The default of each
# vendor is served from 2026-10-05 (the earliest simulated date in the test suite) until past
# today + WARN_BEFORE: see tests/test_versions.py.

D = date  # short alias for the tables below

# -- Google Ads API ------------------------------------------------------------------------------
# Policy: "Major versions have a lifespan of around 12 months"; since 2026 four majors a year,
# "Each major release will now be available for one year after the release" (GOOGLE_ADS_2026).
# Sunsets 2024-2026 are Wednesdays, so the projected days are too.
GOOGLE_ADS_SUNSETS = "https://developers.google.com/google-ads/api/docs/sunset-dates"
GOOGLE_ADS_RELEASE_NOTES = "https://developers.google.com/google-ads/api/docs/release-notes"
GOOGLE_ADS_2026 = (
    "https://developers.google.com/ads/blog/posts/2025/09/more-frequent-releases-coming-for"
)
_GOOGLE_BLOG = "https://developers.google.com/ads/blog/posts/"

_register(
    VendorVersions(
        system="google_ads",
        default="v25",
        source=GOOGLE_ADS_SUNSETS,
        versions=(
            # v16-v22: sunsets read from each "sunset reminder" post; releases of v16, v17, v18,
            # v20 and v22 unverified
            # sunset read: _GOOGLE_BLOG 2025/01/google-ads-api-v16-sunset-reminder
            ApiVersion("v16", D(2024, 2, 7), D(2025, 2, 5)),
            # sunset read: _GOOGLE_BLOG 2025/04/google-ads-api-v17-sunset-reminder
            ApiVersion("v17", D(2024, 6, 5), D(2025, 6, 4)),
            # sunset read: _GOOGLE_BLOG 2025/07/google-ads-api-v18-sunset-reminder
            ApiVersion("v18", D(2024, 10, 16), D(2025, 8, 20)),
            # release read: _GOOGLE_BLOG 2025/02/announcing-v19-of-google-ads-api;
            # sunset read: _GOOGLE_BLOG 2025/12/google-ads-api-v19-sunset-reminder
            ApiVersion("v19", D(2025, 2, 26), D(2026, 2, 11)),
            # sunset read: _GOOGLE_BLOG 2026/04/google-ads-api-v20-sunset-reminder
            ApiVersion("v20", D(2025, 6, 4), D(2026, 6, 10)),
            # release read: Google's v21 release post (2025-08-06);
            # sunset read: _GOOGLE_BLOG 2026/06/google-ads-api-v21-sunset-reminder
            ApiVersion("v21", D(2025, 8, 6), D(2026, 8, 5)),
            # sunset read: _GOOGLE_BLOG 2026/09/google-ads-api-v22-sunset-reminder
            ApiVersion("v22", D(2025, 10, 15), D(2026, 10, 7)),
            # v23-v26: release read (GOOGLE_ADS_RELEASE_NOTES; _GOOGLE_BLOG 2026/01 announcing v23,
            # 2026/10 announcing v26); sunset month read from GOOGLE_ADS_2026 (itself "projected"
            # there), the day projected from GOOGLE_ADS_SUNSETS (a Wednesday about a year on)
            ApiVersion("v23", D(2026, 1, 28), D(2027, 2, 10)),
            ApiVersion("v24", D(2026, 4, 22), D(2027, 5, 12)),
            ApiVersion("v25", D(2026, 7, 22), D(2027, 8, 11)),
            ApiVersion("v26", D(2026, 10, 14), D(2027, 11, 10)),
        ),
    )
)

# -- Meta Marketing API --------------------------------------------------------------------------
# Every date read from META_VERSIONS (Marketing API version history: release and expiration).
# Policy (META_VERSIONING): the previous version stays for at least 90 days after a new one;
# in practice each version has lived about 12-13 months.
META_VERSIONS = (
    "https://developers.facebook.com/documentation/ads-commerce/marketing-api/"
    "marketing-api-changelog/versions"
)
META_VERSIONING = "https://developers.facebook.com/docs/marketing-api/overview/versioning"

_register(
    VendorVersions(
        system="meta_ads",
        # the official facebook-business SDK 26.0.3 speaks v26.0 (apiconfig API_VERSION), and
        # v26.0 has no expiration announced: the SDK's own version is the default
        default="v26.0",
        source=META_VERSIONS,
        versions=(
            ApiVersion("v16.0", D(2023, 2, 2), D(2024, 2, 6)),
            ApiVersion("v17.0", D(2023, 5, 23), D(2024, 5, 14)),
            ApiVersion("v18.0", D(2023, 9, 12), D(2024, 8, 13)),
            ApiVersion("v19.0", D(2024, 1, 23), D(2025, 2, 4)),
            ApiVersion("v20.0", D(2024, 5, 21), D(2025, 5, 6)),
            ApiVersion("v21.0", D(2024, 10, 2), D(2025, 9, 9)),
            ApiVersion("v22.0", D(2025, 1, 21), D(2026, 2, 19)),
            ApiVersion("v23.0", D(2025, 5, 29), D(2026, 6, 9)),
            ApiVersion("v24.0", D(2025, 10, 8), D(2026, 11, 10)),
            ApiVersion("v25.0", D(2026, 2, 18), D(2027, 2, 23)),
            # expiration "TBD" on META_VERSIONS; by META_VERSIONING not before 2027-02-02 (90 days
            # after v27.0), by the pattern above about 2027-08
            ApiVersion("v26.0", D(2026, 7, 29)),
            ApiVersion("v27.0", D(2026, 11, 4)),  # expiration "TBD"
        ),
    )
)

# -- LinkedIn Marketing API ----------------------------------------------------------------------
# Policy (LINKEDIN_VERSIONING): monthly versions, "supported and stable for a minimum of one year
# before sunset". LINKEDIN_MIGRATIONS gives the sunset day of each version; the release is the
# version's month (the pages name the month only: day 1 here). No 202412 or 202512 appears in
# LinkedIn's tables. Projected sunsets: the 15th a year on, moved to Monday from a weekend (as
# the read ones mostly are).
LINKEDIN_MIGRATIONS = "https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations"
LINKEDIN_VERSIONING = "https://learn.microsoft.com/en-us/linkedin/marketing/versioning"
LINKEDIN_RECENT_CHANGES = (
    "https://learn.microsoft.com/en-us/linkedin/marketing/integrations/recent-changes"
)


def _linkedin(name: str, sunset: date | None = None) -> ApiVersion:
    """A monthly LinkedIn version released in its month; without ``sunset``, projected a year on."""
    year, month = int(name[:4]), int(name[4:6])
    if sunset is None:
        sunset = D(year + 1, month, 15)
        sunset += timedelta(days=(7 - sunset.weekday()) % 7 if sunset.weekday() >= 5 else 0)
    return ApiVersion(name, D(year, month, 1), sunset)


_register(
    VendorVersions(
        system="linkedin_ads",
        default="202610",
        source=LINKEDIN_MIGRATIONS,
        versions=(
            _linkedin("202407", D(2025, 7, 22)),  # read: LINKEDIN_MIGRATIONS
            _linkedin("202408", D(2025, 8, 18)),  # read
            _linkedin("202409", D(2025, 9, 15)),  # read
            _linkedin("202410", D(2025, 10, 15)),  # read
            _linkedin("202411", D(2025, 11, 17)),  # read
            _linkedin("202501"),  # projected from LINKEDIN_VERSIONING (sunset by 2026-01: read)
            _linkedin("202502"),  # projected from LINKEDIN_VERSIONING
            _linkedin("202503"),  # projected (sunset by 2026-03: read, "has been sunset")
            _linkedin("202504"),  # projected from LINKEDIN_VERSIONING
            _linkedin("202505"),  # projected (sunset by 2026-05: read)
            _linkedin("202506"),  # projected (sunset by 2026-06: read)
            _linkedin("202507"),  # projected from LINKEDIN_VERSIONING
            _linkedin("202508", D(2026, 8, 17)),  # read: LINKEDIN_RECENT_CHANGES banner
            _linkedin("202509"),  # projected from LINKEDIN_VERSIONING
            _linkedin("202510", D(2026, 10, 15)),  # read: LINKEDIN_MIGRATIONS
            _linkedin("202511", D(2026, 11, 16)),  # read
            _linkedin("202601", D(2027, 1, 15)),  # read
            _linkedin("202602", D(2027, 2, 15)),  # read
            _linkedin("202603", D(2027, 3, 16)),  # read
            # 202604-202608 exist (read: LINKEDIN_RECENT_CHANGES, 202608 "Latest" in Aug 2026);
            # 202609-202611 projected from the monthly cadence; all their sunsets projected
            _linkedin("202604"),
            _linkedin("202605"),
            _linkedin("202606"),
            _linkedin("202607"),
            _linkedin("202608"),
            _linkedin("202609"),
            _linkedin("202610"),
            _linkedin("202611"),
        ),
    )
)

# -- Salesforce REST API -------------------------------------------------------------------------
# SALESFORCE_EOL (read): 7.0-20.0 retired as of Summer '22; 21.0-30.0 retired as of Summer '25;
# 31.0-40.0 deprecated from Summer '27 and retired from Summer '28 (SALESFORCE_31_40); 41.0 and
# later supported, none announced. Policy: each version supported at least three years from its
# first release; three releases a year (Spring, Summer, Winter), +1.0 each (31.0 = Summer '14).
# "Released" = the release's final major-release weekend, when every org has it (first orgs get
# it up to about a month earlier); the same day is a retirement's "sunset". Those days are the
# second Saturday of the release month (projected), except where read (_SALESFORCE_READ).
SALESFORCE_EOL = (
    "https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/api_rest_eol.htm"
)
SALESFORCE_31_40 = "https://help.salesforce.com/s/articleView?id=005321531&type=1"

_SALESFORCE_READ = {
    # final major-release dates read from release calendars (third-party pages, not Salesforce's:
    # RoseSilverSoftware/illuminatedcloud issue 2358 for 58.0, ToAFinish/addressverification wiki
    # "Releases" for 66.0-68.0)
    58: D(2023, 6, 10),  # Summer '23 "available in all orgs on June 10, 2023"
    66: D(2026, 2, 21),  # Spring '26 Major Release
    67: D(2026, 6, 13),  # Summer '26 Major Release
    68: D(2026, 10, 10),  # Winter '27 Major Release
}


def _salesforce_release(version: int) -> date:
    """Release of Salesforce API ``version``.0 (see the block comment above)."""
    if version in _SALESFORCE_READ:
        return _SALESFORCE_READ[version]
    months = 2014 * 12 + 5 + 4 * (version - 31)  # 31.0 = Summer '14, June 2014 (month index 5)
    first = D(months // 12, months % 12 + 1, 1)
    return first + timedelta(days=(5 - first.weekday()) % 7 + 7)  # second Saturday


def _salesforce() -> tuple[ApiVersion, ...]:
    summer_22, summer_25, summer_28 = (_salesforce_release(v) for v in (55, 64, 73))
    out = []
    for number in range(7, 69):  # 68.0 = Winter '27, the newest released by 2026-12
        if number <= 20:
            sunset: date | None = summer_22
        elif number <= 30:
            sunset = summer_25
        elif number <= 40:
            sunset = summer_28  # projected day of the announced Summer '28 retirement
        else:
            sunset = None
        out.append(ApiVersion(f"{number}.0", _salesforce_release(number), sunset))
    return tuple(out)


_register(
    VendorVersions(
        system="salesforce",
        # 67.0 (Summer '26): no retirement announced, and in every org since 2026-06-13; 68.0
        # reached all orgs only on 2026-10-10, after the suite's earliest simulated date
        default="67.0",
        source=SALESFORCE_EOL,
        versions=_salesforce(),
    )
)
