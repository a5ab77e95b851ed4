"""The one HTTP layer every connector uses: retries, throttling, OAuth, vendor errors, no secrets.

What an answer means is decided here, once, for all six vendors (:func:`classify`):

* throttling (429, HubSpot ``RATE_LIMIT``, Salesforce ``REQUEST_LIMIT_EXCEEDED``, Google
  ``RESOURCE_EXHAUSTED``, Meta error codes 4/17/32/613/80000-80014, LinkedIn 429, Mailchimp 429
  without ``Retry-After``) is retried after the delay the vendor gives (``Retry-After``, Google's
  ``retryDelay``, Meta's ``estimated_time_to_regain_access``) or exponential backoff;
* a vendor delay (``Retry-After`` in seconds or as an HTTP date, RFC 9110) is waited for up to
  ``REVOPS_HTTP_MAX_RETRY_AFTER`` seconds (default 300); a longer one, or a *daily* quota that
  has run out (HubSpot's ``DAILY`` policy, Salesforce's ``TotalRequests``, LinkedIn's ``DAY``
  limit, each answered :data:`QUOTA_CONFIRMATIONS` times in a row), raises
  :class:`QuotaExhausted` with its ``reason``: the connectors end the stream there and record it
  *incomplete* (:func:`revops.sources.base.tracked_stream`), never done;
* 5xx answers, dropped connections and bodies that are cut short or are not JSON are retried;
* an answer saying the request asks for too much data (Meta's code 1 "Please reduce the amount
  of data you're asking for", its insights timeouts 100/1504018 and 2/1504038 and the
  data-per-call limit 100/1487534) is not retried as sent: :class:`RequestTooLarge` is raised at
  once, so the caller can ask for less (a smaller date range, an async report job);
* 401 refreshes an OAuth access token once (when the client has a refresh flow), then fails;
* any other 4xx fails at once with a :class:`SourceError` naming the system, stream, status and
  the vendor's own error text. Credentials travel in headers or form bodies only, never in a
  message: a vendor body that echoes a token, a secret field or an ``Authorization`` value is
  masked (:func:`redact`) before it becomes part of any message or log line.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol

import requests

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}
# a daily-quota answer is believed after this many in a row (one request's retries): a quota
# that is really gone costs a few requests more, a transient answer worded like one is retried
QUOTA_CONFIRMATIONS = 4
META_THROTTLE_CODES = {4, 17, 32, 613, *range(80000, 80015)}
META_TRANSIENT_CODES = {2}
# Meta's "ask for less" answers (code, subcode; None: any subcode): code 1 "Please reduce the
# amount of data you're asking for, then retry your request"; the Ads Insights error codes page's
# sync "Request Timed Out. Try a smaller date range, fetch less data, or use async jobs"
# (100/1504018, 2/1504038) and the data-per-call limit (100/1487534, insights best practices)
META_TOO_LARGE: frozenset[tuple[int, int | None]] = frozenset(
    {(1, None), (100, 1504018), (2, 1504038), (100, 1487534)}
)

Verdict = Literal["retry", "throttle", "quota", "unauthorized", "reduce", "fail"]


MAX_RETRY_AFTER_ENV = "REVOPS_HTTP_MAX_RETRY_AFTER"


class SourceError(RuntimeError):
    """A vendor answered with an error that retrying will not fix, or retries ran out.

    ``detail`` is masked (:func:`redact`): a vendor body that echoes a credential never reaches
    the message.
    """

    def __init__(self, system: str, stream: str, status: int | None, detail: str) -> None:
        detail = redact(detail)
        self.system, self.stream, self.status, self.detail = system, stream, status, detail
        where = f"{system} stream {stream!r}"
        what = f"HTTP {status}" if status is not None else "connection failed"
        super().__init__(f"{where}: {what}: {detail}")


class PagingError(SourceError):
    """A vendor's paging cannot be trusted: a cursor given again, endless empty pages, or a
    page without its items key. Rows would loop or be lost, so the run fails."""

    def __init__(self, system: str, stream: str, detail: str) -> None:
        super().__init__(system, stream, None, detail)
        self.args = (f"{system} stream {stream!r}: {self.detail}",)

    def __str__(self) -> str:
        return str(self.args[0])


class RequestTooLarge(SourceError):
    """The vendor says the request asks for too much data at once (Meta's code 1 "Please reduce
    the amount of data you're asking for", an insights query that timed out). Sending it again
    unchanged fails the same way, so it is not retried: the caller asks for less (a smaller date
    range, an async report job) or the stream fails with this message."""


class QuotaExhausted(SourceError):
    """The vendor will not answer again soon enough in this run: a daily quota is used up, or
    it asks to wait longer than ``REVOPS_HTTP_MAX_RETRY_AFTER``. The stream ends *incomplete*
    (recorded, never done) and the next run resumes from its cursor.

    ``reason`` says why in a few words (``daily quota: ...``, ``Retry-After 3600 s exceeds
    REVOPS_HTTP_MAX_RETRY_AFTER=300 s``); it is what the gate's failure shows.
    """

    def __init__(
        self,
        system: str,
        stream: str,
        status: int | None,
        detail: str,
        reason: str | None = None,
    ) -> None:
        super().__init__(system, stream, status, detail)
        self.reason = redact(reason) if reason else self.detail


# -- secrets in vendor bodies ------------------------------------------------------------------

# dlt's list of sensitive query parameters (dlt.sources.helpers.rest_client.redaction), plus
# the OAuth and header names vendors echo back in error bodies
_SECRET_KEYS = (
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "api_key",
    "apikey",
    "api-key",
    "access-token",
    "secret",
    "password",
    "pwd",
    "token",
    "authorization",
    "x-api-key",
)
_SECRET_FIELD = re.compile(
    r"(?P<key>[\"']?\b(?:" + "|".join(re.escape(k) for k in _SECRET_KEYS) + r")\b[\"']?)"
    r"(?P<sep>\s*[:=]\s*)(?P<quote>[\"']?)"
    r"(?!\*\*\*)(?P<value>(?:Bearer\s+|Basic\s+)?[^\s\"',;&}]+)",
    re.IGNORECASE,
)
_SCHEME_TOKEN = re.compile(r"\b(?P<scheme>Bearer|Basic|OAuth)\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]+")
_MIN_SECRET = 6  # shorter known values are not masked by value (they would mask ordinary words)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with credentials masked as ``***``: bearer/basic tokens, the values of fields
    named like a secret (``access_token``, ``refresh_token``, ``client_secret``, ``api_key``,
    ``password``, ``Authorization``...) in JSON, form or header notation, and every one of
    ``secrets`` (the values the client sent) wherever it appears."""
    if not text:
        return text
    for secret in sorted({s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len)[::-1]:
        text = text.replace(secret, "***")
    text = _SCHEME_TOKEN.sub(lambda m: f"{m.group('scheme')} ***", text)
    return _SECRET_FIELD.sub(
        lambda m: f"{m.group('key')}{m.group('sep')}{m.group('quote')}***", text
    )


@dataclass
class RetryPolicy:
    """How often and how long to retry; delays grow as base * 2**attempt, capped at
    ``max_delay``, with jitter, when the vendor names no delay.

    ``max_retry_after`` is the longest vendor-requested wait honoured (``Retry-After``,
    Google's ``retryDelay``, Meta's time to regain access): a vendor asking for more ends the
    stream with :class:`QuotaExhausted`, recorded as incomplete.
    """

    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 60.0
    max_retry_after: float = 300.0

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """``REVOPS_HTTP_MAX_ATTEMPTS``, ``REVOPS_HTTP_BASE_DELAY``, ``REVOPS_HTTP_MAX_DELAY``,
        ``REVOPS_HTTP_MAX_RETRY_AFTER`` (a bad value: ConfigError naming the variable)."""
        from revops.settings import current

        s = current()
        return cls(s.http_max_attempts, s.http_base_delay, s.http_max_delay, s.http_max_retry_after)

    def backoff(self, attempt: int) -> float:
        """The delay before retry number ``attempt`` (0-based) when the vendor gives none."""
        delay = min(self.max_delay, self.base_delay * 2**attempt)
        return delay * (0.5 + random.random() / 2)


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def vendor_error_text(response: requests.Response) -> str:
    """The vendor's own error message from a response body (all six vendors' shapes)."""
    body = _body(response)
    if body is None:
        return (response.text or response.reason or "").strip()[:500]
    if isinstance(body, list) and body:  # Salesforce: [{"message", "errorCode"}]
        body = body[0]
    if not isinstance(body, dict):
        return str(body)[:500]
    error = body.get("error")
    if isinstance(error, dict):  # Google APIs, Meta Graph
        text = error.get("message") or error.get("status") or json.dumps(error)
        if error.get("code") is not None and "#" not in str(text) and "status" not in error:
            text = f"(#{error['code']}) {text}"
        failures = [  # Google Ads: what was wrong is in GoogleAdsFailure.errors, not the message
            " ".join(
                part
                for part in (
                    ", ".join(f"{k}: {v}" for k, v in (e.get("errorCode") or {}).items()),
                    str(e.get("message") or "").strip(),
                )
                if part
            )
            for d in error.get("details") or []
            if isinstance(d, dict)
            for e in d.get("errors") or []
            if isinstance(e, dict)
        ]
        if failures:
            text = f"{text} ({'; '.join(failures)})"
        return str(text)[:500]
    if isinstance(error, str):  # OAuth endpoints
        return f"{error}: {body.get('error_description', '')}".strip(": ")[:500]
    for key in ("message", "detail", "title", "errorCode"):  # HubSpot, Mailchimp, SF, LinkedIn
        if body.get(key):
            text = str(body[key])
            if key == "message" and body.get("errorCode"):
                text = f"{body['errorCode']}: {text}"
            return text[:500]
    return json.dumps(body)[:500]


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def _duration(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):  # protobuf Duration as JSON object
        return float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9
    match = _DURATION.match(str(value or ""))
    return float(match.group(1)) if match else None


def _google_retry_delay(error: dict[str, Any]) -> float | None:
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        delay = _duration(detail.get("retryDelay"))  # google.rpc.RetryInfo
        if delay is not None:
            return delay
        for failure in detail.get("errors") or []:  # GoogleAdsFailure.errors[].details
            quota = ((failure or {}).get("details") or {}).get("quotaErrorDetails") or {}
            delay = _duration(quota.get("retryDelay"))
            if delay is not None:
                return delay
    return None


META_USAGE_KEYS = frozenset(
    {
        "call_count",
        "total_cputime",
        "total_time",
        "acc_id_util_pct",
        "estimated_time_to_regain_access",
        "reset_time_duration",
    }
)


def meta_usage(headers: Mapping[str, str]) -> tuple[float, float, float] | None:
    """From Meta's usage headers: the highest usage percentage (``call_count``,
    ``total_cputime``, ``total_time``, ``acc_id_util_pct``), the seconds until access is
    regained (``estimated_time_to_regain_access``, minutes) and until the ad account's usage
    resets (``reset_time_duration``, seconds); None when the answer carries none."""
    pct = regain = reset = 0.0
    found = False
    for header in ("X-Business-Use-Case-Usage", "X-Ad-Account-Usage", "X-App-Usage"):
        raw = headers.get(header)
        if not raw:
            continue
        try:
            usage = json.loads(raw)
        except ValueError:
            continue
        entries: list[Any] = []
        if isinstance(usage, dict) and any(isinstance(v, list) for v in usage.values()):
            for value in usage.values():  # business use case: {business_id: [entries]}
                entries.extend(value if isinstance(value, list) else [value])
        else:
            entries.append(usage)
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            found = found or bool(META_USAGE_KEYS & entry.keys())
            for key in ("call_count", "total_cputime", "total_time", "acc_id_util_pct"):
                try:
                    pct = max(pct, float(entry.get(key) or 0))
                except (TypeError, ValueError):
                    continue
            try:
                regain = max(regain, float(entry.get("estimated_time_to_regain_access") or 0) * 60)
                reset = max(reset, float(entry.get("reset_time_duration") or 0))
            except (TypeError, ValueError):
                continue
    return (pct, regain, reset) if found else None


def _meta_usage_delay(response: requests.Response) -> float | None:
    """Meta's usage headers: the longer of ``estimated_time_to_regain_access`` (minutes) and
    ``reset_time_duration`` (seconds), None when neither is given."""
    figures = meta_usage(response.headers)
    wait = max(figures[1], figures[2]) if figures else 0.0
    return wait or None


def retry_after_seconds(value: str, now: float | None = None) -> float | None:
    """A ``Retry-After`` value in seconds: delay-seconds (``120``, also ``1.5``) or an HTTP date
    (``Fri, 04 Dec 2026 11:31:00 GMT``, RFC 9110 section 10.2.3), counted from ``now`` (epoch
    seconds, default the clock); a date in the past is 0; anything else None.

    dlt parses the same two forms (``wait_exponential_retry_after._parse_retry_after``), but as a
    private method of a tenacity wait that clamps to its own limits and reads the clock itself.
    """
    text = (value or "").strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def vendor_retry_hint(response: requests.Response) -> tuple[float, str] | None:
    """The delay the vendor asks for, in seconds, and where it said so (``Retry-After``,
    ``retryDelay``, Meta's usage header), if it gives one."""
    header = response.headers.get("Retry-After")
    if header:
        seconds = retry_after_seconds(header)
        if seconds is not None:
            return seconds, "Retry-After"
    body = _body(response)
    if isinstance(body, list) and body:
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        delay = _google_retry_delay(error)
        if delay is not None:
            return delay, "retryDelay"
    delay = _meta_usage_delay(response)
    return (delay, "the usage header's time to regain access") if delay is not None else None


def vendor_retry_delay(response: requests.Response) -> float | None:
    """The delay the vendor asks for, in seconds, if it gives one."""
    hint = vendor_retry_hint(response)
    return hint[0] if hint else None


def classify(response: requests.Response) -> tuple[Verdict, bool]:
    """What an error answer means: (verdict, whether the vendor calls it a daily quota)."""
    status = response.status_code
    body = _body(response)
    first = body[0] if isinstance(body, list) and body else body
    first = first if isinstance(first, dict) else {}
    error = first.get("error") if isinstance(first.get("error"), dict) else {}
    text = vendor_error_text(response)

    # Meta Graph: throttling arrives as 400/403 with an error code
    meta_code = error.get("code") if isinstance(error.get("code"), int) else None
    if meta_code is not None and error.get("type") is not None:
        subcode = error.get("error_subcode")
        if meta_code in META_THROTTLE_CODES:
            return "throttle", False
        if error.get("is_transient") is True:
            return "retry", False
        if (meta_code, None) in META_TOO_LARGE or (meta_code, subcode) in META_TOO_LARGE:
            return "reduce", False
        if meta_code in META_TRANSIENT_CODES:
            return "retry", False
    # Salesforce: 403 REQUEST_LIMIT_EXCEEDED (TotalRequests is the rolling 24-hour quota)
    if first.get("errorCode") == "REQUEST_LIMIT_EXCEEDED":
        return "throttle", "TotalRequests" in str(first.get("message", ""))
    if status == 429:
        daily = (
            str(first.get("policyName", "")).upper() == "DAILY"  # HubSpot
            or bool(re.search(r"\bDAY\b|\bdaily\b", text))  # LinkedIn, Mailchimp wording
        )
        return "throttle", daily
    if status == 401:
        return "unauthorized", False
    if status in RETRYABLE_STATUS:
        return "retry", False
    return "fail", False


class Pacer(Protocol):
    """Paces one client's requests below the vendor's limits, so it is not throttled: asked
    before each request how long to wait first, told of each answer (the vendor's usage or
    rate-limit headers). A vendor's own pacer lives with its connector."""

    def before(self, method: str, url: str) -> float:
        """Seconds to wait before sending this request (0: send now)."""
        ...

    def after(self, method: str, url: str, response: requests.Response) -> None:
        """Learn from an answer's headers."""
        ...


@dataclass
class IntervalPacer:
    """At most ``per_second`` requests a second to URLs that contain ``match`` (all when
    empty), spaced evenly: the simplest pacer, for a documented per-second limit."""

    per_second: float
    match: str = ""
    clock: Callable[[], float] = time.monotonic
    _next: float = 0.0

    def before(self, method: str, url: str) -> float:
        """The wait that keeps requests ``1/per_second`` apart."""
        if self.match and self.match not in url:
            return 0.0
        now = self.clock()
        start = max(now, self._next)
        self._next = start + 1.0 / self.per_second
        return start - now

    def after(self, method: str, url: str, response: requests.Response) -> None:
        """Nothing to learn from answers."""


class OAuthToken:
    """An access token: the one configured, or one obtained and refreshed from a token endpoint.

    ``refresh`` posts a ``refresh_token`` grant (client id and secret in the form body, as
    Google, HubSpot, LinkedIn and Salesforce all accept) and remembers the answer; extra fields
    of the answer (Salesforce's ``instance_url``) are kept in :attr:`answer`.
    """

    def __init__(
        self,
        system: str,
        access_token: str | None,
        token_url: str | None,
        client_id: str | None = None,
        client_secret: str | None = None,
        refresh_token: str | None = None,
    ) -> None:
        self.system = system
        self._token = access_token or None
        self.token_url = token_url
        self._client = (client_id, client_secret, refresh_token)
        self.answer: dict[str, Any] = {}
        self.refreshes = 0

    def secrets(self) -> list[str]:
        """The credential values this token flow holds (masked wherever they are echoed)."""
        _, client_secret, refresh_token = self._client
        return [v for v in (self._token, client_secret, refresh_token) if v]

    @property
    def can_refresh(self) -> bool:
        """Whether a refresh flow is configured."""
        return bool(self.token_url and all(self._client))

    def token(self) -> str:
        """The current access token, obtaining one first if none is held."""
        if self._token is None:
            self.refresh()
        assert self._token is not None
        return self._token

    def refresh(self) -> str:
        """Exchange the refresh token for a new access token."""
        if not self.can_refresh:
            raise SourceError(
                self.system,
                "oauth_token",
                None,
                "no access token and no refresh flow configured (set REVOPS_"
                f"{self.system.upper()}_TOKEN, or _TOKEN_URL, _CLIENT_ID, _CLIENT_SECRET and "
                "_REFRESH_TOKEN)",
            )
        client_id, client_secret, refresh_token = self._client
        oauth = ApiClient(
            system=self.system,
            base_url=str(self.token_url),
            secrets=tuple(s for s in (client_secret, refresh_token) if s),
        )
        answer = oauth.request(
            "POST",
            "",
            "oauth_token",
            data={
                "grant_type": "refresh_token",
                "client_id": client_id,
                "client_secret": client_secret,
                "refresh_token": refresh_token,
            },
        )
        self.answer = answer if isinstance(answer, dict) else {}
        token = self.answer.get("access_token")
        if not token:
            raise SourceError(self.system, "oauth_token", 200, "token endpoint gave no token")
        self._token = str(token)
        self.refreshes += 1
        return self._token


@dataclass
class ApiClient:
    """A session bound to one vendor's base URL and credentials.

    ``headers`` gives the per-request headers (called on every attempt, so a refreshed token is
    used at once); ``oauth`` enables refresh-on-401. Every credential value sent (header,
    basic auth, OAuth secrets, ``secrets``) is masked in the messages built from vendor bodies.
    """

    system: str
    base_url: str
    headers: Callable[[], Mapping[str, str]] = field(default=lambda: {})
    auth: Any = None
    oauth: OAuthToken | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy.from_env)
    timeout: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    secrets: tuple[str, ...] = ()  # more credential values to mask (a token endpoint's form)
    pacer: Pacer | None = None  # slows requests down before the vendor throttles them

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.session = requests.Session()
        self.requests_made = 0
        self.retries = 0
        self.exhausted: QuotaExhausted | None = None
        self.sent_secrets: set[str] = set()  # credential values sent, masked in any message

    def _secrets(self, headers: Mapping[str, str]) -> list[str]:
        """Remember the credential values a request carries (headers, basic auth, OAuth)."""
        for name, value in headers.items():
            if name.lower() in ("authorization", "x-api-key", "api-key", "developer-token"):
                self.sent_secrets.add(value.split(" ", 1)[-1])  # the token, not its scheme
        if isinstance(self.auth, tuple):
            self.sent_secrets.update(str(part) for part in self.auth[1:] if part)
        self.sent_secrets.update(self.secrets)
        if self.oauth is not None:
            self.sent_secrets.update(s for s in self.oauth.secrets() if s)
        return sorted(self.sent_secrets)

    def _vendor_text(self, response: requests.Response, headers: Mapping[str, str]) -> str:
        return redact(vendor_error_text(response), self._secrets(headers))

    def url(self, path: str) -> str:
        """An absolute URL for ``path`` (absolute URLs pass through; ``/x`` is under the base)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}" if path.strip("/") else self.base_url

    def request(
        self,
        method: str,
        path: str,
        stream: str,
        *,
        decode: Literal["json", "none"] = "json",
        stream_body: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Send one request, retrying what can be retried; the decoded JSON (or the response).

        A body that is cut short or is not JSON counts as a failed attempt and is retried.
        Raises :class:`QuotaExhausted` when the vendor's daily quota is used up, and
        :class:`SourceError` for everything that retrying will not fix.
        """
        if self.exhausted is not None:  # the quota is gone for this run: don't ask again
            raise QuotaExhausted(
                self.system,
                stream,
                self.exhausted.status,
                self.exhausted.detail,
                reason=self.exhausted.reason,
            )
        url = self.url(path)
        last_error = ""
        last_status: int | None = None
        refreshed = False
        daily_answers = 0
        attempt = 0
        while attempt < self.policy.max_attempts:
            self.requests_made += 1
            delay: float | None = None
            headers = dict(self.headers())
            if self.pacer is not None:
                wait = self.pacer.before(method, url)
                if wait > 0:
                    self.sleep(wait)
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=headers,
                    auth=self.auth,
                    timeout=self.timeout,
                    stream=stream_body,
                    **kwargs,
                )
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as err:
                last_status, last_error = None, f"{type(err).__name__} (connection dropped)"
            else:
                if self.pacer is not None:
                    self.pacer.after(method, url, response)
                if response.status_code < 400:
                    if decode == "none":
                        return response
                    try:
                        return response.json()
                    except ValueError:  # truncated or malformed body: ask again
                        last_status = response.status_code
                        last_error = (
                            f"malformed JSON body ({len(response.content)} bytes, "
                            f"Content-Length {response.headers.get('Content-Length', '?')})"
                        )
                else:
                    last_status = response.status_code
                    last_error = self._vendor_text(response, headers)
                    verdict, daily = classify(response)
                    if verdict == "unauthorized" and self.oauth and self.oauth.can_refresh:
                        if refreshed:
                            raise SourceError(self.system, stream, last_status, last_error)
                        refreshed = True
                        log.info("%s %s: access token rejected, refreshing", self.system, stream)
                        self.oauth.refresh()
                        continue  # a refresh is not a retry
                    if verdict in ("unauthorized", "fail"):
                        raise SourceError(self.system, stream, last_status, last_error)
                    if verdict == "reduce":
                        raise RequestTooLarge(self.system, stream, last_status, last_error)
                    if verdict == "throttle":
                        hint = vendor_retry_hint(response)
                        delay = hint[0] if hint else None
                        daily_answers = daily_answers + 1 if daily else 0
                        reason = None
                        if daily_answers >= QUOTA_CONFIRMATIONS:
                            reason = f"daily quota: {last_error}"
                        elif hint and hint[0] > self.policy.max_retry_after:
                            reason = (
                                f"{hint[1]} {hint[0]:.0f} s exceeds {MAX_RETRY_AFTER_ENV}="
                                f"{self.policy.max_retry_after:g} s"
                            )
                        if reason:
                            self.exhausted = QuotaExhausted(
                                self.system,
                                stream,
                                last_status,
                                f"{reason} ({last_error})"
                                if not reason.endswith(last_error)
                                else reason,
                                reason=reason,
                            )
                            raise self.exhausted
            if delay is None:  # no vendor delay: our back-off, capped at max_delay
                delay = min(self.policy.backoff(attempt), self.policy.max_delay)
            attempt += 1
            if attempt >= self.policy.max_attempts:
                break
            self.retries += 1
            log.warning(
                "%s %s: %s, retry %d/%d in %.2fs",
                self.system,
                stream,
                f"HTTP {last_status} {last_error}" if last_status else last_error,
                attempt,
                self.policy.max_attempts - 1,
                delay,
            )
            self.sleep(delay)
        raise SourceError(
            self.system,
            stream,
            last_status,
            f"gave up after {self.policy.max_attempts} attempts: {last_error}",
        )

    def get_json(self, path: str, stream: str, **kwargs: Any) -> Any:
        """GET and decode JSON."""
        return self.request("GET", path, stream, **kwargs)

    def post_json(self, path: str, stream: str, **kwargs: Any) -> Any:
        """POST and decode JSON."""
        return self.request("POST", path, stream, **kwargs)

    def json_array_items(
        self, method: str, path: str, stream: str, chunk_size: int = 1 << 16, **kwargs: Any
    ) -> Iterator[Any]:
        """The elements of a JSON array body, decoded one at a time as the body streams in.

        For answers that are one large array (Google Ads ``searchStream``): memory stays at one
        element, not the whole body. A body cut short mid-way is retried from the start (the
        elements already given are given again; loads merge on primary keys).
        """
        for attempt in range(self.policy.max_attempts):
            response = self.request(method, path, stream, decode="none", stream_body=True, **kwargs)
            try:
                yield from _iter_array(response.iter_content(chunk_size))
                return
            except (ValueError, requests.RequestException) as err:
                if attempt + 1 >= self.policy.max_attempts:
                    raise SourceError(
                        self.system,
                        stream,
                        response.status_code,
                        f"gave up after {self.policy.max_attempts} attempts: body cut short or "
                        f"not JSON ({type(err).__name__})",
                    ) from err
                self.retries += 1
                log.warning("%s %s: body cut short (%s), retrying", self.system, stream, err)
                self.sleep(self.policy.backoff(attempt))
            finally:
                response.close()


def _iter_array(chunks: Iterator[bytes]) -> Iterator[Any]:
    """Decode the elements of a top-level JSON array from a stream of byte chunks.

    An element still arriving is decoded again only once the buffer has doubled, so a large
    element costs linear, not quadratic, time.
    """
    decoder = json.JSONDecoder()
    state = {"buffer": "", "started": False, "done": False, "retry_at": 0}

    def drain(final: bool) -> Iterator[Any]:
        buffer = state["buffer"]
        while True:
            buffer = buffer.lstrip()
            if not state["started"]:
                if not buffer:
                    break
                if buffer[0] != "[":
                    raise ValueError("expected a JSON array")
                state["started"], buffer = True, buffer[1:]
                continue
            if buffer.startswith(","):
                buffer = buffer[1:]
                continue
            if buffer.startswith("]"):
                state["done"], buffer = True, buffer[1:]
                break
            if not buffer or (not final and len(buffer) < state["retry_at"]):
                break
            try:
                item, end = decoder.raw_decode(buffer)
            except ValueError:
                state["retry_at"] = 2 * len(buffer)
                break  # incomplete element: wait for more bytes
            state["retry_at"] = 0
            yield item
            buffer = buffer[end:]
        state["buffer"] = buffer

    pending = b""
    for chunk in chunks:
        pending += chunk
        try:
            text, pending = pending.decode("utf-8"), b""
        except UnicodeDecodeError as err:  # a multi-byte character split across chunks
            text, pending = pending[: err.start].decode("utf-8"), pending[err.start :]
        state["buffer"] += text
        yield from drain(final=False)
        if state["done"]:
            break
    if not state["done"]:
        yield from drain(final=True)
    if not state["done"] or state["buffer"].strip() or pending:
        raise ValueError("JSON array body ended early")
