"""The connectors' HTTP layer against a real loopback server answering from a script."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from revops.config import ConfigError
from revops.sources.http import (
    QUOTA_CONFIRMATIONS,
    ApiClient,
    OAuthToken,
    QuotaExhausted,
    RequestTooLarge,
    RetryPolicy,
    SourceError,
    _iter_array,
    retry_after_seconds,
)

SECRET = "pat-na1-very-secret-token"


class Scripted(ThreadingHTTPServer):
    """Answers each request with the next (status, headers, body) in ``script``."""

    def __init__(self, script):
        self.script = list(script)
        self.seen_auth: list[str] = []
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        server: Scripted = self.server  # type: ignore[assignment]
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        server.seen_auth.append(self.headers.get("Authorization", ""))
        status, headers, body = server.script.pop(0)
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_GET

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def serve():
    servers = []

    def start(script) -> tuple[Scripted, ApiClient, list[float]]:
        server = Scripted(script)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        servers.append(server)
        slept: list[float] = []
        client = ApiClient(
            system="hubspot",
            base_url=f"http://127.0.0.1:{server.server_address[1]}",
            headers=lambda: {"Authorization": f"Bearer {SECRET}"},
            policy=RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=5),
            sleep=slept.append,
        )
        return server, client, slept

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_429_honours_retry_after_then_succeeds(serve) -> None:
    rate_limited = {"status": "error", "errorType": "RATE_LIMIT", "message": "secondly limit"}
    server, client, slept = serve(
        [(429, {"Retry-After": "2"}, rate_limited), (200, {}, {"ok": True})]
    )
    assert client.get_json("/x", "contacts") == {"ok": True}
    assert slept == [2.0]
    assert client.retries == 1


def test_google_retry_delay_in_the_body_is_honoured(serve) -> None:
    exhausted = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "message": "quota",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}
            ],
        }
    }
    _, client, slept = serve([(429, {}, exhausted), (200, {}, [])])
    assert client.get_json("/x", "campaign_daily") == []
    assert slept == [1.5]


def test_5xx_is_retried_with_backoff(serve) -> None:
    _, client, slept = serve(
        [
            (503, {}, {"message": "unavailable"}),
            (502, {}, {"message": "bad gateway"}),
            (200, {}, {"done": 1}),
        ]
    )
    assert client.get_json("/x", "contacts") == {"done": 1}
    assert len(slept) == 2 and all(0 < s <= 5 for s in slept)


def test_other_4xx_fails_at_once_naming_system_stream_status_and_vendor_text(serve) -> None:
    body = {
        "status": "error",
        "message": "Property 'foo' does not exist",
        "category": "VALIDATION_ERROR",
    }
    server, client, slept = serve([(400, {}, body)])
    with pytest.raises(SourceError) as err:
        client.get_json("/x", "contacts")
    text = str(err.value)
    assert text == "hubspot stream 'contacts': HTTP 400: Property 'foo' does not exist"
    assert SECRET not in text and slept == []
    assert server.seen_auth == [f"Bearer {SECRET}"]  # the token went in the header only


def test_retries_run_out_with_a_clear_error(serve) -> None:
    _, client, _ = serve([(503, {}, {"message": "down"})] * 4)
    with pytest.raises(SourceError) as err:
        client.get_json("/x", "contacts")
    assert "gave up after 4 attempts: down" in str(err.value)
    assert err.value.status == 503


def test_salesforce_request_limit_is_throttling_and_retried(serve) -> None:
    limit = [
        {
            "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
            "errorCode": "REQUEST_LIMIT_EXCEEDED",
        }
    ]
    _, client, slept = serve([(403, {"Retry-After": "3"}, limit), (200, {}, {"done": True})])
    assert client.get_json("/q", "opportunity") == {"done": True}
    assert slept == [3.0]


def test_salesforce_daily_total_requests_ends_the_run_cleanly(serve) -> None:
    limit = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    server, client, slept = serve([(403, {}, limit)] * QUOTA_CONFIRMATIONS)
    with pytest.raises(QuotaExhausted) as err:
        client.get_json("/q", "lead")
    assert "daily quota" in str(err.value) and "TotalRequests" in str(err.value)
    assert len(slept) == QUOTA_CONFIRMATIONS - 1  # believed only when it persists
    with pytest.raises(QuotaExhausted):  # no further request is sent once the quota is gone
        client.get_json("/q", "contact")
    assert len(server.seen_auth) == QUOTA_CONFIRMATIONS


def test_a_daily_quota_answer_that_does_not_persist_is_retried(serve) -> None:
    limit = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    _, client, _ = serve([(403, {}, limit), (403, {}, limit), (200, {}, {"done": True})])
    assert client.get_json("/q", "lead") == {"done": True}


def test_meta_throttling_codes_honour_the_usage_header(serve) -> None:
    throttled = {
        "error": {
            "message": "(#17) User request limit reached",
            "type": "OAuthException",
            "code": 17,
            "error_subcode": 2446079,
            "fbtrace_id": "x",
        }
    }
    usage = json.dumps(
        {
            "1189450230212345": [
                {"type": "ads_insights", "call_count": 100, "estimated_time_to_regain_access": 0.05}
            ]
        }
    )
    _, client, slept = serve(
        [(400, {"X-Business-Use-Case-Usage": usage}, throttled), (200, {}, {"data": []})]
    )
    assert client.get_json("/act_1/insights", "ad_insights") == {"data": []}
    assert slept == [3.0]


def test_meta_other_errors_fail_with_the_vendor_text(serve) -> None:
    invalid = {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100}}
    _, client, _ = serve([(400, {}, invalid)])
    with pytest.raises(SourceError) as err:
        client.get_json("/act_1/ads", "ads")
    assert str(err.value) == "hubspot stream 'ads': HTTP 400: (#100) Invalid parameter"


def meta_error(code: int, message: str, **extra) -> dict:
    return {"error": {"message": message, "type": "OAuthException", "code": code, **extra}}


@pytest.mark.parametrize(
    ("code", "subcode", "message"),
    [
        (1, None, "Please reduce the amount of data you're asking for, then retry your request"),
        (100, 1504018, "Your request timed out. Try a smaller date range, fetch less data"),
        (2, 1504038, "Your request timed out. Try a smaller date range, fetch less data"),
        (100, 1487534, "Please reduce the amount of data you're asking for"),
    ],
)
def test_meta_asks_for_less_data_is_not_retried_as_sent(serve, code, subcode, message) -> None:
    extra = {"error_subcode": subcode} if subcode else {}
    server, client, slept = serve(
        [(500 if code == 2 else 400, {}, meta_error(code, message, **extra))]
    )
    with pytest.raises(RequestTooLarge) as err:
        client.get_json("/act_1/insights", "ad_insights")
    assert client.requests_made == 1 and slept == [] and not server.script
    assert message in str(err.value) and "ad_insights" in str(err.value)


def test_meta_transient_errors_are_retried(serve) -> None:
    flagged = meta_error(1, "An unknown error occurred", is_transient=True)
    service = meta_error(2, "An unexpected error has occurred. Please retry your request later.")
    _, client, slept = serve([(500, {}, flagged), (500, {}, service), (200, {}, {"data": []})])
    assert client.get_json("/act_1/ads", "ads") == {"data": []}
    assert len(slept) == 2


def test_hubspot_daily_limit_is_a_quota_not_a_retry(serve) -> None:
    daily = {
        "status": "error",
        "message": "You have reached your daily limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "DAILY",
    }
    _, client, _ = serve([(429, {}, daily)] * QUOTA_CONFIRMATIONS)
    with pytest.raises(QuotaExhausted):
        client.get_json("/x", "contacts")


def test_google_retry_delay_beyond_the_longest_wait_is_a_quota(serve) -> None:
    exhausted = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "message": "quota",
            "details": [
                {
                    "@type": "type.googleapis.com/google.ads.googleads.v21.errors.GoogleAdsFailure",
                    "errors": [
                        {
                            "errorCode": {"quotaError": "RESOURCE_EXHAUSTED"},
                            "details": {
                                "quotaErrorDetails": {
                                    "rateScope": "DEVELOPER",
                                    "retryDelay": "43200s",
                                }
                            },
                        }
                    ],
                }
            ],
        }
    }
    _, client, slept = serve([(429, {}, exhausted)])
    with pytest.raises(QuotaExhausted) as err:
        client.get_json("/x", "campaign_daily")
    assert "43200" in str(err.value) and slept == []


def test_mailchimp_429_without_retry_after_backs_off(serve) -> None:
    busy = {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "You have exceeded the limit of 10 simultaneous connections.",
    }
    _, client, slept = serve([(429, {}, busy), (200, {}, {"members": []})])
    assert client.get_json("/lists/1/members", "members") == {"members": []}
    assert len(slept) == 1 and 0 < slept[0] <= 0.01


def test_a_truncated_or_malformed_body_is_retried_then_named(serve) -> None:
    _, client, slept = serve([(200, {}, b'{"results": [1, 2'), (200, {}, {"results": [1, 2]})])
    assert client.get_json("/x", "contacts") == {"results": [1, 2]}
    assert len(slept) == 1
    _, client, _ = serve([(200, {}, b"<html>oops")] * 4)
    with pytest.raises(SourceError) as err:
        client.get_json("/x", "contacts")
    assert "malformed JSON body" in str(err.value)


def test_an_expired_token_is_refreshed_once(serve) -> None:
    expired = {
        "status": "error",
        "message": "The OAuth token used to make this call expired.",
        "category": "EXPIRED_AUTHENTICATION",
    }
    token_server, token_client, _ = serve(
        [
            (200, {}, {"access_token": "fresh", "expires_in": 1800}),
            (200, {}, {"access_token": "fresh2"}),
        ]
    )
    oauth = OAuthToken("hubspot", "stale", token_client.base_url, "id", "secret", "refresh")
    server, client, slept = serve(
        [(401, {}, expired), (200, {}, {"ok": 1}), (401, {}, expired), (401, {}, expired)]
    )
    client.headers = lambda: {"Authorization": f"Bearer {oauth.token()}"}
    client.oauth = oauth
    assert client.get_json("/x", "contacts") == {"ok": 1}
    assert server.seen_auth[:2] == ["Bearer stale", "Bearer fresh"] and slept == []
    with pytest.raises(SourceError) as err:  # refreshed once per request, then it fails
        client.get_json("/x", "contacts")
    assert err.value.status == 401 and "fresh" not in str(err.value)
    assert oauth.refreshes == 2


def test_a_json_array_body_is_decoded_element_by_element() -> None:
    body = json.dumps(
        [{"results": [{"id": i, "name": "é" * 3} for i in range(500)]}, {"results": []}]
    ).encode()
    for size in (1, 7, 4096):
        chunks = (body[i : i + size] for i in range(0, len(body), size))
        assert list(_iter_array(chunks)) == json.loads(body)
    with pytest.raises(ValueError, match="ended early"):
        list(_iter_array(iter([body[: len(body) // 2]])))


# -- long Retry-After, its HTTP-date form, the ceiling (issue 11) -------------------------------


def test_a_long_retry_after_within_the_ceiling_is_waited_for(serve) -> None:
    throttled = {"status": "error", "errorType": "RATE_LIMIT", "message": "ten-secondly limit"}
    _, client, slept = serve([(429, {"Retry-After": "120"}, throttled), (200, {}, {"ok": 1})])
    assert client.policy.max_retry_after == 300.0  # the default ceiling
    assert client.get_json("/x", "contacts") == {"ok": 1}
    assert slept == [120.0]  # not cut to max_delay (5 s here), not taken for a used-up quota


def test_a_retry_after_beyond_the_ceiling_stops_the_stream_incomplete(serve) -> None:
    throttled = {"status": "error", "errorType": "RATE_LIMIT", "message": "hourly limit"}
    server, client, slept = serve([(429, {"Retry-After": "3600"}, throttled)])
    with pytest.raises(QuotaExhausted) as err:
        client.get_json("/x", "contacts")
    assert err.value.reason == "Retry-After 3600 s exceeds REVOPS_HTTP_MAX_RETRY_AFTER=300 s"
    assert slept == []
    with pytest.raises(QuotaExhausted) as again:  # the vendor is not asked again in this run
        client.get_json("/y", "deals")
    assert again.value.reason == err.value.reason and len(server.seen_auth) == 1


def test_the_ceiling_is_a_setting(serve, monkeypatch) -> None:
    monkeypatch.setenv("REVOPS_HTTP_MAX_RETRY_AFTER", "30")
    assert RetryPolicy.from_env().max_retry_after == 30.0
    monkeypatch.setenv("REVOPS_HTTP_MAX_RETRY_AFTER", "soon")
    with pytest.raises(ConfigError) as err:
        RetryPolicy.from_env()
    assert "REVOPS_HTTP_MAX_RETRY_AFTER='soon'" in str(err.value)


def test_a_daily_quota_gives_its_reason(serve) -> None:
    daily = {"message": "You have reached your daily limit.", "policyName": "DAILY"}
    _, client, _ = serve([(429, {}, daily)] * QUOTA_CONFIRMATIONS)
    with pytest.raises(QuotaExhausted) as err:
        client.get_json("/x", "contacts")
    assert err.value.reason == "daily quota: You have reached your daily limit."


def test_retry_after_as_an_http_date_is_understood(serve) -> None:
    from email.utils import formatdate

    when = formatdate(time.time() + 90, usegmt=True)  # e.g. "Fri, 04 Dec 2026 11:31:00 GMT"
    throttled = {"status": "error", "errorType": "RATE_LIMIT", "message": "secondly limit"}
    _, client, slept = serve([(429, {"Retry-After": when}, throttled), (200, {}, {"ok": 1})])
    assert client.get_json("/x", "contacts") == {"ok": 1}
    assert len(slept) == 1 and 85 <= slept[0] <= 91


def test_retry_after_parsing() -> None:
    now = 1_796_000_000.0
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds(" 1.5 ", now) == 1.5
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0 - 60) == 60.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0 + 60) == 0.0
    assert retry_after_seconds("tomorrow", now) is None


# -- secrets echoed in vendor bodies (issue 11) -------------------------------------------------


def test_a_401_body_that_echoes_the_bearer_token_is_masked(serve) -> None:
    body = {
        "status": "error",
        "message": f"Authentication credentials not found: Bearer {SECRET} is not valid; "
        f"token {SECRET} expired",
        "category": "INVALID_AUTHENTICATION",
    }
    _, client, _ = serve([(401, {}, body)])
    with pytest.raises(SourceError) as err:
        client.get_json("/x", "contacts")
    text = str(err.value)
    assert SECRET not in text
    assert text == (
        "hubspot stream 'contacts': HTTP 401: Authentication credentials not found: "
        "Bearer *** is not valid; token *** expired"
    )


def test_secret_fields_and_authorization_headers_in_bodies_are_masked(serve) -> None:
    body = {
        "error": "invalid_request",
        "error_description": 'echo: {"access_token": "ya29.a0Af", "refresh_token": "1//0gx", '
        '"client_secret": "GOCSPX-x"} apikey=abc123-us21 Authorization: Basic dXNlcjpwYXNz',
    }
    _, client, _ = serve([(400, {}, body)])
    with pytest.raises(SourceError) as err:
        client.get_json("/x", "contacts")
    text = str(err.value)
    for secret in ("ya29.a0Af", "1//0gx", "GOCSPX-x", "abc123-us21", "dXNlcjpwYXNz"):
        assert secret not in text
    assert '"access_token": "***"' in text and "apikey=***" in text
    assert "invalid_request" in text  # what went wrong is kept


def test_a_bad_max_attempts_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("REVOPS_HTTP_MAX_ATTEMPTS", "abc")
    with pytest.raises(ConfigError) as err:
        RetryPolicy.from_env()
    assert str(err.value).startswith("REVOPS_HTTP_MAX_ATTEMPTS='abc' is not a whole number")
    assert "invalid literal" not in str(err.value)
    monkeypatch.setenv("REVOPS_HTTP_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("REVOPS_HTTP_BASE_DELAY", "fast")
    with pytest.raises(ConfigError) as err:
        RetryPolicy.from_env()
    assert "REVOPS_HTTP_BASE_DELAY='fast'" in str(err.value)
