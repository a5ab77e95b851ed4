"""The connectors' HTTP layer against a real loopback server answering from a script."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from revops.sources.http import ApiClient, RetryPolicy, SourceError

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
        server.seen_auth.append(self.headers.get("Authorization", ""))
        status, headers, body = server.script.pop(0)
        payload = json.dumps(body).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def serve():
    servers = []

    def start(script) -> tuple[Scripted, ApiClient, list[float]]:
        server = Scripted(script)
        threading.Thread(target=server.serve_forever, daemon=True).start()
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
    server, client, slept = serve([(429, {"Retry-After": "2"}, rate_limited),
                                   (200, {}, {"ok": True})])
    assert client.get_json("/x", "contacts") == {"ok": True}
    assert slept == [2.0]
    assert client.retries == 1


def test_google_retry_delay_in_the_body_is_honoured(serve) -> None:
    exhausted = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota",
                           "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                        "retryDelay": "1.5s"}]}}
    _, client, slept = serve([(429, {}, exhausted), (200, {}, [])])
    assert client.get_json("/x", "campaign_daily") == []
    assert slept == [1.5]


def test_5xx_is_retried_with_backoff(serve) -> None:
    _, client, slept = serve([(503, {}, {"message": "unavailable"}),
                              (502, {}, {"message": "bad gateway"}),
                              (200, {}, {"done": 1})])
    assert client.get_json("/x", "contacts") == {"done": 1}
    assert len(slept) == 2 and all(0 < s <= 5 for s in slept)


def test_other_4xx_fails_at_once_naming_system_stream_status_and_vendor_text(serve) -> None:
    body = {"status": "error", "message": "Property 'foo' does not exist",
            "category": "VALIDATION_ERROR"}
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
