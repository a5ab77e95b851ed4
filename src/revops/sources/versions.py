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
# TODO(issue 12, research): the dates below are placeholders until checked against each vendor's
# page; the research helper replaces this block.
