"""Transport-neutral request/response types and the timestamp formats the vendors use.

The vendor handlers (``hubspot``, ``google_ads``, ``mailchimp``) are pure functions from a
:class:`Request` to a :class:`Response`; ``server`` adapts them to HTTP. Keeping them free of
sockets makes them easy to test and keeps every answer a function of (company, request).
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

__all__ = [
    "Request",
    "Response",
    "json_response",
    "ms_to_dt",
    "dt_to_ms",
    "fmt_hubspot",
    "fmt_mailchimp",
    "parse_iso",
    "parse_as_of",
    "fmt_salesforce",
    "fmt_graph",
    "keep_newest",
    "position_of",
    "position_token",
]


@dataclass
class Request:
    """One HTTP request as a vendor handler sees it.

    ``path`` is relative to the vendor's base URL (e.g. ``/crm/v3/objects/contacts``),
    ``headers`` have lower-cased names, and ``base_url`` is the vendor base URL as the client
    used it (for building absolute ``link`` values).
    """

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    base_url: str = ""

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        query_string: str = "",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        base_url: str = "",
    ) -> Request:
        """A request from raw parts (query string unparsed, header names in any case)."""
        return cls(
            method=method.upper(),
            path=path,
            query=parse_qs(query_string, keep_blank_values=True),
            headers={k.lower(): v for k, v in (headers or {}).items()},
            body=body,
            base_url=base_url,
        )

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        """Every value of a repeated query parameter."""
        return list(self.query.get(name, []))

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` when it is not JSON)."""
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    """An HTTP answer: status, body bytes, content type and extra headers."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body.decode("utf-8"))


def json_response(
    status: int,
    payload: Any,
    content_type: str = "application/json; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> Response:
    """A compact, deterministic JSON response (keys keep insertion order)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(status, body, content_type, dict(headers or {}))


def ms_to_dt(ms: int) -> datetime:
    """Epoch milliseconds to an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def dt_to_ms(dt: datetime) -> int:
    """An aware datetime to epoch milliseconds (naive datetimes are taken as UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(round(dt.timestamp() * 1000))


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY_TEXT: dict[int, str] = {}


def _utc_seconds(ms: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` in UTC for epoch milliseconds, from integer arithmetic and one
    cached date text per day: a vendor page renders many datetimes, and ``strftime`` on a new
    datetime each time was most of what a CRM page cost."""
    day, second = divmod(ms // 1000, 86_400)
    text = _DAY_TEXT.get(day)
    if text is None:
        text = _DAY_TEXT.setdefault(day, date.fromordinal(_EPOCH_ORDINAL + day).isoformat())
    hour, rest = divmod(second, 3600)
    minute, sec = divmod(rest, 60)
    return f"{text}T{hour:02d}:{minute:02d}:{sec:02d}"


def fmt_hubspot(ms: int) -> str:
    """HubSpot's timestamp format: ISO 8601, milliseconds, ``Z`` (``2026-11-01T14:03:27.123Z``)."""
    return f"{_utc_seconds(ms)}.{ms % 1000:03d}Z"


def fmt_mailchimp(ms: int) -> str:
    """Mailchimp's timestamp format: ISO 8601, whole seconds, ``+00:00``."""
    return f"{_utc_seconds(ms)}+00:00"


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 timestamp or date (``Z`` allowed; naive values are UTC)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def parse_as_of(value: str | date | datetime) -> datetime:
    """The simulated clock from an ISO date (midnight UTC) or date-time (naive means UTC)."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = value.strip()
        try:
            dt = parse_iso(text)
        except ValueError:
            raise ValueError(
                f"bad --as-of value {value!r}: expected an ISO date or date-time"
            ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def fmt_salesforce(ms: int) -> str:
    """Salesforce's datetime format: ``2026-11-01T14:03:27.000+0000``."""
    return f"{_utc_seconds(ms)}.{ms % 1000:03d}+0000"


def fmt_graph(ms: int, tz: str) -> str:
    """The Graph API's datetime format, in the ad account's zone: ``2026-11-01T15:03:27+0100``."""
    dt = datetime.fromtimestamp(ms // 1000, tz=ZoneInfo(tz))
    return dt.strftime("%Y-%m-%dT%H:%M:%S%z")


def position_token(position: int, urlsafe: bool = False) -> str:
    """An opaque paging token for a row position: its digits in base64, unpadded (Meta's
    cursors, Salesforce's Bulk API locators; LinkedIn's page tokens with ``urlsafe``)."""
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(str(position).encode()).decode().rstrip("=")


def position_of(token: str, urlsafe: bool = False) -> int:
    """The row position of a :func:`position_token` (``ValueError`` when it is not one)."""
    decode = base64.urlsafe_b64decode if urlsafe else base64.b64decode
    return int(decode(token + "=" * (-len(token) % 4)).decode())


def keep_newest(cache: OrderedDict[Any, Any], key: Any, value: Any, size: int) -> None:
    """Store ``value`` as the newest entry of the LRU ``cache``, evicting the oldest beyond
    ``size`` (the caller holds the cache's lock)."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)
