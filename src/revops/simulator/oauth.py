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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs

from revops.simulator.wire import Request, Response, json_response

__all__ = [
    "DEFAULT_LIFETIMES",
    "GrantRules",
    "RFC6749_ERRORS",
    "Refusal",
    "bearer_grant",
    "TokenState",
    "TokenStore",
    "basic_client",
    "form_of",
    "granted_form",
]

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


Refusal = tuple[int, str] | tuple[int, str, str]
"""How a token endpoint refuses one check: HTTP status and description, then the error code
where the vendor does not use RFC 6749's code for that check (:data:`RFC6749_ERRORS`)."""

RFC6749_ERRORS: dict[str, str] = {
    "method": "invalid_request",
    "body": "invalid_request",
    "grant": "unsupported_grant_type",
    "client_id": "invalid_client",
    "client_secret": "invalid_client",
    "refresh_token": "invalid_grant",
}
"""The error code RFC 6749 (5.2) gives each check of a token request."""


def oauth_refusal(refusal: tuple[int, str, str]) -> Response:
    """The OAuth 2.0 error body (RFC 6749 5.2): ``{"error", "error_description"}``."""
    status, error, description = refusal
    return json_response(status, {"error": error, "error_description": description})


@dataclass(frozen=True)
class GrantRules:
    """How one vendor's OAuth token endpoint refuses a request, in that vendor's words.

    The checks are the same everywhere and run in this order: the HTTP method, a readable body,
    a grant type in ``grants``, the client id, the client secret, then (for the
    ``refresh_token`` grant) the refresh token. ``grant``'s description may name the grant sent
    as ``{grant}``. ``basic`` takes the client from an HTTP Basic header too; ``answer`` words
    a refusal (status, error code, description) as the vendor's error body.
    """

    method: Refusal
    body: Refusal
    grant: Refusal
    client_id: Refusal
    client_secret: Refusal
    refresh_token: Refusal
    grants: tuple[str, ...] = ("refresh_token",)
    basic: bool = True
    answer: Callable[[tuple[int, str, str]], Response] = oauth_refusal

    def refuse(self, check: str, grant: str | None = None) -> Response:
        """The vendor's answer to a request that fails ``check``."""
        status, description, *code = getattr(self, check)
        if check == "grant":
            description = description.format(grant=grant or "")
        return self.answer((status, code[0] if code else RFC6749_ERRORS[check], description))


def granted_form(
    req: Request, creds: dict[str, str], rules: GrantRules
) -> dict[str, str] | Response:
    """The token request's form when ``creds`` grant it; else the vendor's refusal."""
    if req.method != "POST":
        return rules.refuse("method")
    form = form_of(req)
    if form is None:
        return rules.refuse("body")
    basic = basic_client(req) if rules.basic else None
    if basic is not None:
        form.setdefault("client_id", basic[0])
        form.setdefault("client_secret", basic[1])
    grant = form.get("grant_type")
    if grant not in rules.grants:
        return rules.refuse("grant", grant)
    for check in ("client_id", "client_secret"):
        if form.get(check) != creds[check]:
            return rules.refuse(check)
    if grant == "refresh_token" and form.get("refresh_token") != creds["refresh_token"]:
        return rules.refuse("refresh_token")
    return form


def bearer_grant(tokens: TokenStore, system: str, prefix: str, **fields: str | int) -> Response:
    """A granted token request: a new ``access_token`` and its ``expires_in``, then the
    vendor's own ``fields`` in the order given."""
    token, lifetime = tokens.mint(system, prefix)
    return json_response(200, {"access_token": token, "expires_in": lifetime, **fields})
