"""The one HTTP layer every connector uses: retries, backoff, vendor errors, no secrets in output.

429s and each vendor's own throttling answers are retried, honouring any delay the vendor gives
(``Retry-After``, Google's ``retryDelay``); 5xx answers and dropped connections are retried with
exponential backoff; any other 4xx fails at once with a :class:`SourceError` naming the system,
stream, status and the vendor's own error text. Credentials travel in headers only and never
appear in a message.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {429, 500, 502, 503, 504}


class SourceError(RuntimeError):
    """A vendor answered with an error that retrying will not fix, or retries ran out."""

    def __init__(self, system: str, stream: str, status: int | None, detail: str) -> None:
        self.system, self.stream, self.status, self.detail = system, stream, status, detail
        where = f"{system} stream {stream!r}"
        what = f"HTTP {status}" if status is not None else "connection failed"
        super().__init__(f"{where}: {what}: {detail}")


@dataclass
class RetryPolicy:
    """How often and how long to retry; delays grow as base * 2**attempt, capped, with jitter."""

    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 60.0

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """``REVOPS_HTTP_MAX_ATTEMPTS``, ``REVOPS_HTTP_BASE_DELAY``, ``REVOPS_HTTP_MAX_DELAY``."""
        return cls(
            max_attempts=max(1, int(os.environ.get("REVOPS_HTTP_MAX_ATTEMPTS", cls.max_attempts))),
            base_delay=float(os.environ.get("REVOPS_HTTP_BASE_DELAY", cls.base_delay)),
            max_delay=float(os.environ.get("REVOPS_HTTP_MAX_DELAY", cls.max_delay)),
        )

    def backoff(self, attempt: int) -> float:
        """The delay before retry number ``attempt`` (0-based) when the vendor gives none."""
        delay = min(self.max_delay, self.base_delay * 2**attempt)
        return delay * (0.5 + random.random() / 2)


def vendor_error_text(response: requests.Response) -> str:
    """The vendor's own error message from a response body (HubSpot, Google, Mailchimp, ...)."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason or "").strip()[:500]
    if isinstance(body, list) and body:
        body = body[0]
    if not isinstance(body, dict):
        return str(body)[:500]
    error = body.get("error")
    if isinstance(error, dict):  # Google APIs
        return str(error.get("message") or error.get("status") or error)[:500]
    if isinstance(error, str):  # OAuth endpoints
        return f"{error}: {body.get('error_description', '')}".strip(": ")[:500]
    for key in ("message", "detail", "title", "errorCode"):  # HubSpot, Mailchimp, Salesforce
        if body.get(key):
            return str(body[key])[:500]
    return json.dumps(body)[:500]


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def vendor_retry_delay(response: requests.Response) -> float | None:
    """The delay the vendor asks for, in seconds, if it gives one."""
    header = response.headers.get("Retry-After")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, list) and body:
        body = body[0]
    details = (body.get("error") or {}).get("details", []) if isinstance(body, dict) else []
    for detail in details if isinstance(details, list) else []:
        match = _DURATION.match(str(detail.get("retryDelay", "")))
        if match:
            return float(match.group(1))
    return None


@dataclass
class ApiClient:
    """A session bound to one vendor's base URL and credentials."""

    system: str
    base_url: str
    headers: Callable[[], Mapping[str, str]] = field(default=lambda: {})
    auth: Any = None
    policy: RetryPolicy = field(default_factory=RetryPolicy.from_env)
    timeout: float = 60.0
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.session = requests.Session()
        self.requests_made = 0
        self.retries = 0

    def request(self, method: str, path: str, stream: str, **kwargs: Any) -> requests.Response:
        """Send one request, retrying what can be retried; raise :class:`SourceError` otherwise."""
        if path.startswith("http"):
            url = path
        else:
            url = f"{self.base_url}/{path.lstrip('/')}" if path.strip("/") else self.base_url
        last_error = ""
        last_status: int | None = None
        for attempt in range(self.policy.max_attempts):
            self.requests_made += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=dict(self.headers()),
                    auth=self.auth,
                    timeout=self.timeout,
                    **kwargs,
                )
            except (requests.ConnectionError, requests.Timeout) as err:
                last_status, last_error = None, type(err).__name__
                delay = self.policy.backoff(attempt)
            else:
                if response.status_code < 400:
                    return response
                last_status, last_error = response.status_code, vendor_error_text(response)
                if response.status_code not in RETRYABLE_STATUS:
                    raise SourceError(self.system, stream, last_status, last_error)
                delay = vendor_retry_delay(response)
                if delay is None:
                    delay = self.policy.backoff(attempt)
                delay = min(delay, self.policy.max_delay)
            self.retries += 1
            log.warning(
                "%s %s: %s, retry %d/%d in %.2fs",
                self.system,
                stream,
                f"HTTP {last_status} {last_error}" if last_status else last_error,
                attempt + 1,
                self.policy.max_attempts - 1,
                delay,
            )
            if attempt + 1 < self.policy.max_attempts:
                self.sleep(delay)
        raise SourceError(
            self.system,
            stream,
            last_status,
            f"gave up after {self.policy.max_attempts} attempts: {last_error}",
        )

    def get_json(self, path: str, stream: str, **kwargs: Any) -> Any:
        """GET and decode JSON."""
        return self.request("GET", path, stream, **kwargs).json()

    def post_json(self, path: str, stream: str, **kwargs: Any) -> Any:
        """POST and decode JSON."""
        return self.request("POST", path, stream, **kwargs).json()
