"""Access tokens the simulator accepts: long-lived static ones and expiring OAuth ones.

Each vendor accepts two kinds of bearer credential:

* a **static** token (``REVOPS_<SYSTEM>_TOKEN``) that never expires, like a HubSpot private-app
  token or a Meta system-user token - for clients that take a token directly;
* tokens **minted** by the vendor's OAuth token endpoint from the refresh token (Salesforce,
  HubSpot, Google, LinkedIn). They expire after the vendor's usual lifetime (or the server's
  ``token_lifetime``), measured in wall-clock seconds, and the vendor answers an expired one with
  its own "token expired" error, so a connector has to refresh.

:meth:`TokenStore.expire_all` ends every minted token at once (tests use it instead of waiting).
The store is shared by all vendors of one server and survives a change of the simulated clock.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs

from revops.simulator.wire import Request

__all__ = ["DEFAULT_LIFETIMES", "TokenState", "TokenStore", "basic_client", "form_of"]

TokenState = Literal["valid", "expired", "invalid"]

# Seconds, as the vendors issue them (Salesforce does not say; sessions last two hours).
DEFAULT_LIFETIMES: dict[str, int] = {
    "hubspot": 1800,
    "salesforce": 7200,
    "google_ads": 3599,
    "linkedin_ads": 5_184_000,
}


@dataclass
class _Token:
    system: str
    expires_at: float | None  # monotonic seconds; None for static tokens
    issued_at: float


class TokenStore:
    """Thread-safe registry of the tokens each vendor accepts."""

    def __init__(self, static: dict[str, str], lifetime: float | None = None) -> None:
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self.lifetime_override = lifetime
        now = time.monotonic()
        for system, token in static.items():
            self._tokens[token] = _Token(system, None, now)

    def lifetime(self, system: str) -> float:
        """How long a token minted now for ``system`` lives, in seconds."""
        if self.lifetime_override is not None:
            return self.lifetime_override
        return DEFAULT_LIFETIMES.get(system, 3600)

    def mint(self, system: str, prefix: str) -> tuple[str, int]:
        """A new access token for ``system`` and its lifetime in whole seconds."""
        token = prefix + secrets.token_urlsafe(36)
        lifetime = self.lifetime(system)
        now = time.monotonic()
        with self._lock:
            self._tokens = {
                t: v
                for t, v in self._tokens.items()
                if v.expires_at is None or v.expires_at > now - 86_400
            }
            self._tokens[token] = _Token(system, now + lifetime, now)
        return token, max(0, int(lifetime))

    def check(self, system: str, token: str | None) -> TokenState:
        """Whether ``token`` is a valid, expired or unknown credential for ``system``."""
        if not token:
            return "invalid"
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry.system != system:
            return "invalid"
        if entry.expires_at is not None and entry.expires_at <= time.monotonic():
            return "expired"
        return "valid"

    def expired_for(self, token: str) -> float:
        """Seconds since ``token`` expired (0 when unknown or still valid)."""
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry.expires_at is None:
            return 0.0
        return max(0.0, time.monotonic() - entry.expires_at)

    def expire_all(self) -> int:
        """Expire every minted token now; returns how many were still valid."""
        now = time.monotonic()
        count = 0
        with self._lock:
            for entry in self._tokens.values():
                if entry.expires_at is not None and entry.expires_at > now:
                    entry.expires_at = now
                    count += 1
        return count


def form_of(req: Request) -> dict[str, str] | None:
    """The request body as a flat form (urlencoded or JSON); None when unreadable."""
    ctype = req.headers.get("content-type", "")
    try:
        if "json" in ctype:
            data = req.json() or {}
            if not isinstance(data, dict):
                return None
            return {str(k): str(v) for k, v in data.items()}
        form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8")).items()}
        # Some clients send the grant in the query string of a POST.
        for key, values in req.query.items():
            form.setdefault(key, values[0])
        return form
    except (ValueError, UnicodeDecodeError):
        return None


def basic_client(req: Request) -> tuple[str, str] | None:
    """Client id and secret from an HTTP Basic ``Authorization`` header, if any."""
    auth = req.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None
