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
    past (the vendor, not this list, has the last word, so the request is still sent).
    """
    from revops.sources.settings import env_name, setting

    dated = vendor(system)
    name = normalise(system, setting(system, "api_version", dated.default))
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
# Each entry says where its dates come from: "read" = the date is printed on the cited vendor page;
# "projected from <policy URL>" = the page stops before it (or gives only a month), so the date
# follows the vendor's documented cadence and support window. Sunsets None = "TBD" on the page.

D = date  # short alias for the tables below

GOOGLE_ADS_SUNSETS = "https://developers.google.com/google-ads/api/docs/sunset-dates"
GOOGLE_ADS_2026_SCHEDULE = (
    "https://developers.google.com/ads/blog/posts/2025/09/more-frequent-releases-coming-for"
)

_register(
    VendorVersions(
        system="google_ads",
        default="v25",
        source=GOOGLE_ADS_SUNSETS,
        versions=(
            ApiVersion("v16", D(2024, 2, 7), D(2025, 2, 5)),  # projected from GOOGLE_ADS_SUNSETS
            ApiVersion("v17", D(2024, 6, 5), D(2025, 6, 4)),  # sunset read: blog 2025/04
            ApiVersion("v18", D(2024, 10, 16), D(2025, 8, 20)),  # sunset read: blog 2025/07
            ApiVersion("v19", D(2025, 2, 26), D(2026, 2, 11)),  # projected from GOOGLE_ADS_SUNSETS
            ApiVersion("v20", D(2025, 6, 4), D(2026, 6, 10)),  # sunset read: blog 2026/04
            ApiVersion("v21", D(2025, 8, 6), D(2026, 8, 5)),  # sunset read: blog 2026/06
            ApiVersion("v22", D(2025, 10, 15), D(2026, 10, 7)),  # sunset read: blog 2026/09
            # v23-v26: sunset month from GOOGLE_ADS_2026_SCHEDULE ("projected" there), the day
            # projected from GOOGLE_ADS_SUNSETS (about one year after release)
            ApiVersion("v23", D(2026, 1, 28), D(2027, 2, 10)),
            ApiVersion("v24", D(2026, 4, 22), D(2027, 5, 12)),
            ApiVersion("v25", D(2026, 7, 22), D(2027, 8, 11)),  # release read: release notes
            ApiVersion("v26", D(2026, 10, 14), D(2027, 11, 10)),  # release read: blog 2026/10
        ),
    )
)

META_VERSIONS = (
    "https://developers.facebook.com/documentation/ads-commerce/marketing-api/"
    "marketing-api-changelog/versions"
)

_register(
    VendorVersions(
        system="meta_ads",
        # the official facebook-business SDK (26.0.3) speaks v26.0 (apiconfig.API_VERSION)
        default="v26.0",
        source=META_VERSIONS,
        versions=(  # every date read from META_VERSIONS (Marketing API version history)
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
            ApiVersion("v26.0", D(2026, 7, 29)),  # expiration "TBD" on the page
            ApiVersion("v27.0", D(2026, 11, 4)),  # expiration "TBD" on the page
        ),
    )
)

LINKEDIN_MIGRATIONS = "https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations"
LINKEDIN_VERSIONING = "https://learn.microsoft.com/en-us/linkedin/marketing/versioning"


def _linkedin(name: str, sunset: date) -> ApiVersion:
    """A monthly LinkedIn version: released in its month (the page gives the month only)."""
    return ApiVersion(name, D(int(name[:4]), int(name[4:6]), 1), sunset)


_register(
    VendorVersions(
        system="linkedin_ads",
        default="202610",
        source=LINKEDIN_MIGRATIONS,
        versions=(
            # sunsets read from LINKEDIN_MIGRATIONS; release = the version's month
            _linkedin("202407", D(2025, 7, 22)),
            _linkedin("202408", D(2025, 8, 18)),
            _linkedin("202409", D(2025, 9, 15)),
            _linkedin("202410", D(2025, 10, 15)),
            _linkedin("202411", D(2025, 11, 17)),
            # 202501-202509: sunsets projected from LINKEDIN_VERSIONING (one year, mid-month)
            _linkedin("202501", D(2026, 1, 15)),
            _linkedin("202502", D(2026, 2, 16)),
            _linkedin("202503", D(2026, 3, 16)),
            _linkedin("202504", D(2026, 4, 15)),
            _linkedin("202505", D(2026, 5, 15)),
            _linkedin("202506", D(2026, 6, 15)),
            _linkedin("202507", D(2026, 7, 15)),
            _linkedin("202508", D(2026, 8, 17)),
            _linkedin("202509", D(2026, 9, 15)),
            _linkedin("202510", D(2026, 10, 15)),  # sunset read
            _linkedin("202511", D(2026, 11, 16)),  # sunset read
            _linkedin("202601", D(2027, 1, 15)),  # sunset read (no 202512 on the page)
            _linkedin("202602", D(2027, 2, 15)),  # sunset read
            _linkedin("202603", D(2027, 3, 16)),  # sunset read
            # 202604-202611: sunsets projected from LINKEDIN_VERSIONING (one year, mid-month)
            _linkedin("202604", D(2027, 4, 15)),
            _linkedin("202605", D(2027, 5, 17)),
            _linkedin("202606", D(2027, 6, 15)),
            _linkedin("202607", D(2027, 7, 15)),
            _linkedin("202608", D(2027, 8, 16)),
            _linkedin("202609", D(2027, 9, 15)),
            _linkedin("202610", D(2027, 10, 15)),
        ),
    )
)

SALESFORCE_EOL = (
    "https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/api_rest_eol.htm"
)


def _salesforce_release(version: int) -> date:
    """Release of Salesforce API ``version``.0: three releases a year, +1.0 each (31.0 = Summer
    '14 in June 2014, then Winter in October, Spring in February, Summer in June)."""
    months = 2014 * 12 + 5 + 4 * (version - 31)  # June 2014 = month index 5
    return D(months // 12, months % 12 + 1, 15)


def _salesforce() -> tuple[ApiVersion, ...]:
    summer_22, summer_25, summer_28 = (_salesforce_release(v) for v in (55, 64, 73))
    out = []
    for number in range(7, 69):  # 68.0 = Winter '27, released October 2026
        if number <= 20:
            sunset: date | None = summer_22
        elif number <= 30:
            sunset = summer_25
        elif number <= 40:
            sunset = summer_28
        else:
            sunset = None
        out.append(ApiVersion(f"{number}.0", _salesforce_release(number), sunset))
    return tuple(out)


_register(
    VendorVersions(
        system="salesforce",
        default="67.0",
        source=SALESFORCE_EOL,
        versions=_salesforce(),
    )
)
