"""Fault injection: which requests fail, and how, deterministically for a seed.

``--faults RATE[:KINDS]`` (e.g. ``0.1`` or ``0.2:rate_limit,reset``) becomes a
:class:`FaultConfig`. Each request is identified by its vendor, method, path, query and body
(its *signature*) and by how many times that signature was seen before (its *occurrence*). A
hash of ``(seed, vendor, signature, occurrence)`` decides whether it fails and with which kind,
so

* the same sequence of requests meets the same faults in every run with the same seed, however
  requests of different streams interleave, and a test can compare a faulty run with a clean one;
* a retry is a new occurrence and gets a fresh decision, and at most ``max_consecutive``
  occurrences of one signature fail in a row, so a client that retries always gets through.

Kinds (:data:`FAULT_KINDS`, all of them unless KINDS names some):

* ``rate_limit`` - the vendor's own throttling answer, with a ``Retry-After`` header (seconds)
  and whatever delay hint the vendor puts in its body. The status is the vendor's: 429, except
  Salesforce (403 ``REQUEST_LIMIT_EXCEEDED``) and Meta (400/403 with error codes 17, 613, 4).
* ``rate_limit_no_retry_after`` - the same without any delay hint (Mailchimp never sends one).
* ``server_error`` - a 500 in the vendor's error format.
* ``reset`` - the connection is closed (TCP RST) before any answer.
* ``truncated`` - the real answer's headers, then half of its body, then the connection closes.
* ``slow`` - the real answer after ``slow_seconds``.

``malformed`` (a 200 whose JSON body is cut short, with a matching ``Content-Length``) is
available when named, never by default: it tests the "bad input" path, where a connector stops
or sets data aside rather than retrying. OAuth token endpoints are never faulted.

``rate_limit_every`` / ``server_error_every`` keep the older, positional behaviour: every Nth
request to a vendor is throttled (or answers 500), whatever the random plan says.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

__all__ = ["ALIASES", "FAULT_KINDS", "FaultConfig", "FaultPlan", "OPTIONAL_KINDS"]

FAULT_KINDS: tuple[str, ...] = (
    "rate_limit",
    "rate_limit_no_retry_after",
    "server_error",
    "reset",
    "truncated",
    "slow",
)
OPTIONAL_KINDS: tuple[str, ...] = ("malformed",)
ALIASES: dict[str, str] = {
    "429": "rate_limit",
    "throttle": "rate_limit",
    "429-no-retry-after": "rate_limit_no_retry_after",
    "429_no_retry_after": "rate_limit_no_retry_after",
    "rate_limit_bare": "rate_limit_no_retry_after",
    "500": "server_error",
    "5xx": "server_error",
    "connection_reset": "reset",
    "truncate": "truncated",
    "truncated_body": "truncated",
    "slow_response": "slow",
    "bad_json": "malformed",
}


def _kind(name: str) -> str:
    key = name.strip().lower().replace(" ", "_")
    key = ALIASES.get(key, key)
    if key not in FAULT_KINDS and key not in OPTIONAL_KINDS:
        known = ", ".join(FAULT_KINDS + OPTIONAL_KINDS)
        raise ValueError(f"unknown fault kind {name!r} (known: {known})")
    return key


@dataclass(frozen=True)
class FaultConfig:
    """What to inject: a ``rate`` (0..1) of requests fail with one of ``kinds``.

    ``seed`` defaults to the company's seed. ``systems`` limits faults to some vendors
    (``None``: all). ``retry_after`` is the ``Retry-After`` value in seconds for
    ``rate_limit``; ``slow_seconds`` the delay of ``slow``.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int | None = None
    retry_after: int = 1
    slow_seconds: float = 1.0
    max_consecutive: int = 3
    systems: tuple[str, ...] | None = None
    rate_limit_every: int | None = None
    server_error_every: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, not {self.rate}")
        object.__setattr__(self, "kinds", tuple(_kind(k) for k in self.kinds))
        if not self.kinds:
            raise ValueError("at least one fault kind is needed")
        if self.max_consecutive < 1:
            raise ValueError("max_consecutive must be at least 1")

    @classmethod
    def parse(cls, spec: str | None, seed: int | None = None) -> FaultConfig:
        """``RATE[:KIND,KIND...]``, e.g. ``0.1`` or ``0.25:rate_limit,reset`` (empty: none)."""
        if spec is None or not spec.strip():
            return cls(seed=seed)
        rate_text, _, kinds_text = spec.strip().partition(":")
        try:
            rate = float(rate_text)
        except ValueError:
            raise ValueError(f"bad --faults value {spec!r}: expected RATE[:KINDS]") from None
        kinds = tuple(k for k in kinds_text.split(",") if k.strip()) if kinds_text else FAULT_KINDS
        return cls(rate=rate, kinds=kinds, seed=seed)

    @property
    def active(self) -> bool:
        """Whether any fault can happen."""
        return bool(self.rate > 0 or self.rate_limit_every or self.server_error_every)


class FaultPlan:
    """The running decision state for one server: occurrence counters per signature."""

    def __init__(self, config: FaultConfig, default_seed: int) -> None:
        self.config = config
        self.seed = config.seed if config.seed is not None else default_seed
        self._seen: dict[tuple[str, str], int] = {}
        self._streak: dict[tuple[str, str], int] = {}
        self._per_vendor: dict[str, int] = {}
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {}

    def decide(self, system: str, signature: str) -> str | None:
        """The fault for this request, or None to serve it normally."""
        cfg = self.config
        key = (system, signature)
        with self._lock:
            nth = self._per_vendor.get(system, 0) + 1
            self._per_vendor[system] = nth  # counted with or without faults
            if not cfg.active or (cfg.systems is not None and system not in cfg.systems):
                return None
            occurrence = self._seen.get(key, 0)
            self._seen[key] = occurrence + 1
            kind: str | None = None
            if cfg.rate_limit_every and nth % cfg.rate_limit_every == 0:
                kind = "rate_limit"
            elif cfg.server_error_every and nth % cfg.server_error_every == 0:
                kind = "server_error"
            elif cfg.rate > 0 and self._streak.get(key, 0) < cfg.max_consecutive:
                digest = hashlib.blake2b(
                    f"{self.seed}|{system}|{signature}|{occurrence}".encode(), digest_size=16
                ).digest()
                u = int.from_bytes(digest[:8], "big") / 2**64
                if u < cfg.rate:
                    kind = cfg.kinds[int.from_bytes(digest[8:], "big") % len(cfg.kinds)]
            if kind is None:
                self._streak.pop(key, None)
            else:
                self._streak[key] = self._streak.get(key, 0) + 1
                self.injected[kind] = self.injected.get(kind, 0) + 1
            return kind

    def requests_seen(self) -> dict[str, int]:
        """Requests decided per vendor (faulted ones included)."""
        with self._lock:
            return dict(self._per_vendor)
