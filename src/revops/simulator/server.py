"""The simulator's HTTP server: one port, each vendor under its own path prefix.

* ``/hubspot/...``            -> :class:`~revops.simulator.hubspot.HubSpotAPI`
* ``/google-ads/v17/...``     -> :class:`~revops.simulator.google_ads.GoogleAdsAPI`
* ``/google-oauth/token``     -> Google's OAuth token endpoint
* ``/mailchimp/3.0/...``      -> :class:`~revops.simulator.mailchimp.MailchimpAPI`
* ``/``                       -> a JSON index of the base URLs

Routing, fault injection and the HTTP plumbing live here; the vendor modules are pure
request -> response handlers (authentication included, since each vendor words its own 401).

Fault injection (:class:`FaultConfig`) counts requests per vendor: every Nth one answers that
vendor's real throttling response (or a 503) instead of being served. Nothing is lost: the
client's retry is request N+1 and gets the normal answer. The OAuth endpoint is never faulted.
"""

from __future__ import annotations

import sys
import threading
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from revops.simulator.company import Company
from revops.simulator.credentials import (
    GOOGLE_ADS_PREFIX,
    GOOGLE_OAUTH_TOKEN_PATH,
    HUBSPOT_PREFIX,
    MAILCHIMP_PREFIX,
    SIM_CREDENTIALS,
)
from revops.simulator.google_ads import GoogleAdsAPI
from revops.simulator.hubspot import HubSpotAPI
from revops.simulator.mailchimp import MailchimpAPI
from revops.simulator.wire import Request, Response, json_response

__all__ = ["FaultConfig", "Simulator", "SimulatorServer", "run"]


@dataclass(frozen=True)
class FaultConfig:
    """Inject vendor throttling (``rate_limit_every``) or 503s (``server_error_every``).

    Every Nth request to a vendor gets the fault; when both hit the same request the
    rate limit wins. ``None`` (or 0) disables a fault.
    """

    rate_limit_every: int | None = None
    server_error_every: int | None = None


class Simulator:
    """The transport-free core: routes a request to the right vendor and injects faults."""

    def __init__(self, company: Company, faults: FaultConfig | None = None) -> None:
        self.company = company
        self.faults = faults or FaultConfig()
        self.hubspot = HubSpotAPI(company, SIM_CREDENTIALS["hubspot"]["token"])
        self.google_ads = GoogleAdsAPI(company, SIM_CREDENTIALS["google_ads"])
        self.mailchimp = MailchimpAPI(company, SIM_CREDENTIALS["mailchimp"]["api_key"])
        self._counts: dict[str, int] = {"hubspot": 0, "google_ads": 0, "mailchimp": 0}
        self._lock = threading.Lock()

    @property
    def request_counts(self) -> dict[str, int]:
        """Requests seen per vendor (faulted ones included)."""
        with self._lock:
            return dict(self._counts)

    def _fault(self, vendor: str) -> str | None:
        with self._lock:
            self._counts[vendor] += 1
            n = self._counts[vendor]
        if self.faults.rate_limit_every and n % self.faults.rate_limit_every == 0:
            return "rate_limit"
        if self.faults.server_error_every and n % self.faults.server_error_every == 0:
            return "server_error"
        return None

    def dispatch(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        root_url: str,
    ) -> Response:
        """Answer one HTTP request addressed to the simulator root ``root_url``."""

        def under(prefix: str) -> bool:
            return (
                raw_path == prefix
                or raw_path.startswith(prefix + "/")
                or raw_path.startswith(prefix + ":")
            )

        if raw_path == GOOGLE_OAUTH_TOKEN_PATH:
            req = Request.build(method, "/token", query, headers, body, root_url + "/google-oauth")
            return self.google_ads.token(req)
        vendors: list[tuple[str, str, Any]] = [
            ("hubspot", HUBSPOT_PREFIX, self.hubspot),
            ("google_ads", GOOGLE_ADS_PREFIX, self.google_ads),
            ("mailchimp", MAILCHIMP_PREFIX, self.mailchimp),
        ]
        for vendor, prefix, api in vendors:
            if under(prefix):
                fault = self._fault(vendor)
                if fault == "rate_limit":
                    return api.rate_limited()
                if fault == "server_error":
                    return api.unavailable()
                req = Request.build(
                    method, raw_path[len(prefix) :] or "/", query, headers, body, root_url + prefix
                )
                return api.handle(req)
        if raw_path in ("/", ""):
            return json_response(
                200,
                {
                    "simulator": "revops vendor simulator",
                    "seed": self.company.seed,
                    "scale": self.company.scale,
                    "as_of": self.company.as_of.isoformat(),
                    "hubspot": root_url + HUBSPOT_PREFIX,
                    "google_ads": root_url + GOOGLE_ADS_PREFIX,
                    "google_oauth_token": root_url + GOOGLE_OAUTH_TOKEN_PATH,
                    "mailchimp": root_url + MAILCHIMP_PREFIX,
                },
            )
        return json_response(404, {"error": f"no simulated vendor at {raw_path}"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "revops-simulator/1.0"
    sys_version = ""
    simulator: Simulator  # set on the per-server subclass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        try:
            body = self._body()
            path, _, query = self.path.partition("?")
            host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
            try:
                response = self.simulator.dispatch(
                    self.command, path, query, dict(self.headers.items()), body, f"http://{host}"
                )
            except Exception:  # a simulator bug: answer 500, keep serving
                traceback.print_exc(file=sys.stderr)
                response = json_response(500, {"error": "internal simulator error"})
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class SimulatorServer:
    """The simulator served over HTTP on ``host:port`` (``port=0`` picks a free port).

    Use :meth:`start` / :meth:`stop` (or a ``with`` block) to serve from a daemon thread, or
    :meth:`serve_forever` to serve in the calling thread.
    """

    def __init__(
        self,
        company: Company,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultConfig | None = None,
    ) -> None:
        self.company = company
        self.simulator = Simulator(company, faults)
        handler = type("SimulatorHandler", (_Handler,), {"simulator": self.simulator})
        self._httpd = _Server((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        """The bound host."""
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with ``port=0``)."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://host:port``, the simulator root that :func:`env_exports` expects."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> SimulatorServer:
        """Serve from a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="revops-simulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` (or KeyboardInterrupt)."""
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run(
    seed: int = 42,
    scale: float = 1.0,
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: FaultConfig | None = None,
) -> None:
    """Generate the company and serve it in the foreground until Ctrl-C (the CLI's entry point)."""
    company = Company.generate(seed=seed, scale=scale)
    server = SimulatorServer(company, host=host, port=port, faults=faults)
    print(
        f"revops simulator serving seed={seed} scale={scale} "
        f"as_of={company.as_of.date().isoformat()} "
        f'at {server.base_url} - point connectors at it with: eval "$(revops simulate env '
        f'--port {server.port})"',
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()
        print("revops simulator stopped", flush=True)
