"""The simulator's HTTPS servers: one port per vendor, fault injection, the CLI entry points.

Each vendor listens on its own port with the API at the root of its base URL, as the vendor
has it (the port order is in :mod:`revops.simulator.credentials`). Every port serves HTTPS
with the certificate from :mod:`revops.simulator.tls`; clients trust it through
``REQUESTS_CA_BUNDLE``.

The vendor modules are pure request -> response handlers (authentication included, since each
vendor words its own 401); this module adds the transport: TLS, keep-alive, routing to the
vendor of the port, and the faults of :mod:`revops.simulator.faults` - including the ones that
only exist on the wire (reset connections, truncated bodies, slow answers).

:meth:`SimulatorServer.set_as_of` moves the simulated clock of a running server: the company is
regenerated for the new instant and served from the same URLs, with the same tokens.
"""

from __future__ import annotations

import gc
import hashlib
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

from revops.simulator.company import HISTORY_DAYS, Company, freeze_generated
from revops.simulator.credentials import SIM_CREDENTIALS, SYSTEMS, env_exports
from revops.simulator.faults import FaultConfig, FaultPlan
from revops.simulator.oauth import TokenStore
from revops.simulator.tls import TlsFiles, ensure_certificates, server_context
from revops.simulator.wire import Request, Response, json_response, parse_as_of

__all__ = ["FaultConfig", "Simulator", "SimulatorServer", "VendorAPI", "build_apis", "run"]


class VendorAPI(Protocol):
    """What every vendor module provides to the server."""

    def handle(self, req: Request) -> Response:
        """Answer one request (paths relative to the vendor's base URL)."""
        ...

    def throttled(self, retry_after: int | None) -> Response:
        """The vendor's own rate-limit answer (with a delay hint when ``retry_after``)."""
        ...

    def server_error(self) -> Response:
        """A 500 in the vendor's error format."""
        ...

    def is_oauth(self, req: Request) -> bool:
        """Whether the request is for the vendor's OAuth token endpoint (never faulted)."""
        ...


def build_apis(company: Company, tokens: TokenStore) -> dict[str, VendorAPI]:
    """One handler per system over ``company``."""
    from revops.simulator.google_ads import GoogleAdsAPI
    from revops.simulator.hubspot import HubSpotAPI
    from revops.simulator.linkedin_ads import LinkedInAdsAPI
    from revops.simulator.mailchimp import MailchimpAPI
    from revops.simulator.meta_ads import MetaAdsAPI
    from revops.simulator.salesforce import SalesforceAPI

    return {
        "google_ads": GoogleAdsAPI(company, tokens),
        "meta_ads": MetaAdsAPI(company, tokens),
        "linkedin_ads": LinkedInAdsAPI(company, tokens),
        "mailchimp": MailchimpAPI(company, tokens),
        "hubspot": HubSpotAPI(company, tokens),
        "salesforce": SalesforceAPI(company, tokens),
    }


def _signature(req: Request) -> str:
    query = "&".join(f"{k}={v}" for k in sorted(req.query) for v in req.query[k])
    digest = hashlib.sha1(req.body).hexdigest() if req.body else ""
    return f"{req.method} {req.path}?{query}#{digest}"


class Simulator:
    """The transport-free core: the company, the vendor handlers, tokens and the fault plan."""

    def __init__(
        self,
        company: Company,
        faults: FaultConfig | None = None,
        token_lifetime: float | None = None,
    ) -> None:
        self.tokens = TokenStore(
            {system: creds["token"] for system, creds in SIM_CREDENTIALS.items()},
            lifetime=token_lifetime,
        )
        self.faults = FaultPlan(faults or FaultConfig(), company.seed)
        self._lock = threading.Lock()
        self.company = company
        self.apis: dict[str, VendorAPI] = build_apis(company, self.tokens)

    def set_company(self, company: Company) -> None:
        """Serve ``company`` from now on (tokens and fault counters carry over)."""
        apis = build_apis(company, self.tokens)
        with self._lock:
            self.company, self.apis = company, apis

    def warm(self) -> None:
        """Build now what the first requests of a full extract build otherwise: the CRM views
        and Mailchimp's email activity and member statistics (ten years of newsletters take
        the first audience request tens of seconds), then freeze them out of the collector."""
        self.company.crm.warm()
        self.apis["mailchimp"].warm()  # type: ignore[attr-defined]
        freeze_generated()

    @property
    def request_counts(self) -> dict[str, int]:
        """Requests seen per vendor (faulted ones included, OAuth token requests not)."""
        seen = self.faults.requests_seen()
        return {system: seen.get(system, 0) for system in SYSTEMS}

    def plan(self, system: str, req: Request) -> tuple[VendorAPI, str | None]:
        """The handler for ``system`` and the fault (if any) this request meets."""
        api = self.apis[system]
        if api.is_oauth(req):
            return api, None
        return api, self.faults.decide(system, _signature(req))

    def answer(self, system: str, req: Request, fault: str | None = None) -> Response:
        """The response for ``req`` given its fault (wire-level faults are the server's job)."""
        api = self.apis[system]
        if fault == "rate_limit":
            return api.throttled(self.faults.config.retry_after)
        if fault == "rate_limit_no_retry_after":
            return api.throttled(None)
        if fault == "server_error":
            return api.server_error()
        try:
            return api.handle(req)
        except Exception:  # a simulator bug: answer 500, keep serving
            traceback.print_exc(file=sys.stderr)
            return json_response(500, {"error": "internal simulator error"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stalls
    server_version = "revops-simulator/2.0"
    sys_version = ""
    simulator: Simulator  # set on the per-port subclass
    system: str

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

    def _abort(self) -> None:
        """Close the connection with a TCP reset, answering nothing more."""
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            raw = self.connection
            if isinstance(raw, ssl.SSLSocket):
                raw = socket.socket(fileno=raw.detach())
            raw.close()
        except OSError:
            pass

    def _serve(self) -> None:
        try:
            body = self._body()
            path, _, query = self.path.partition("?")
            host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
            req = Request.build(
                self.command, path, query, dict(self.headers.items()), body, f"https://{host}"
            )
            _, fault = self.simulator.plan(self.system, req)
            if fault == "reset":
                self._abort()
                return
            if fault == "slow":
                time.sleep(self.simulator.faults.config.slow_seconds)
            response = self.simulator.answer(self.system, req, fault)
            payload = response.body
            if fault == "malformed":
                payload = payload[: max(1, len(payload) // 2)]
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command == "HEAD":
                return
            if fault == "truncated":
                self.wfile.write(payload[: len(payload) // 2])
                self._abort()
                return
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


class _VendorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type, context: ssl.SSLContext) -> None:
        self.tls_context = context
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the request's own thread, not in the accept loop.
        try:
            request.settimeout(30)
            tls = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass


class SimulatorServer:
    """All six vendors served over HTTPS, one port each.

    ``port=P`` binds P, P+1, ... in the order of :data:`~revops.simulator.credentials.SYSTEMS`;
    ``port=0`` lets each vendor pick a free port. ``cert_dir`` holds the CA and server
    certificate (default ``$REVOPS_HOME/simulator/tls``). Use :meth:`start` / :meth:`stop` (or a
    ``with`` block) to serve from daemon threads, or :meth:`serve_forever` in the foreground.
    """

    def __init__(
        self,
        company: Company,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultConfig | str | None = None,
        cert_dir: Path | str | None = None,
        token_lifetime: float | None = None,
    ) -> None:
        if isinstance(faults, str):
            faults = FaultConfig.parse(faults)
        self.host = host
        self.tls: TlsFiles = ensure_certificates(cert_dir, [host])
        context = server_context(self.tls)
        self.simulator = Simulator(company, faults, token_lifetime)
        self._servers: dict[str, _VendorServer] = {}
        handlers = {
            system: type(
                f"{system.title().replace('_', '')}Handler",
                (_Handler,),
                {"simulator": self.simulator, "system": system},
            )
            for system in SYSTEMS
        }
        if port:
            self._bind(host, [port + i for i in range(len(SYSTEMS))], handlers, context)
        else:
            self._bind_any(host, handlers, context)
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()

    def _bind(
        self, host: str, ports: list[int], handlers: dict[str, type], context: ssl.SSLContext
    ) -> None:
        try:
            for system, port in zip(SYSTEMS, ports, strict=True):
                try:
                    self._servers[system] = _VendorServer((host, port), handlers[system], context)
                except OSError as err:
                    raise OSError(
                        f"cannot serve {system} on {host}:{port}: {err.strerror or err}"
                    ) from err
        except OSError:
            for server in self._servers.values():
                server.server_close()
            self._servers = {}
            raise

    def _bind_any(self, host: str, handlers: dict[str, type], context: ssl.SSLContext) -> None:
        """Free ports, consecutive when possible (so ``env_exports(first_port)`` is right)."""
        for _ in range(20):
            first = _VendorServer((host, 0), handlers[SYSTEMS[0]], context)
            base = int(first.server_address[1])
            first.server_close()
            if base + len(SYSTEMS) > 65535:
                continue
            try:
                self._bind(host, [base + i for i in range(len(SYSTEMS))], handlers, context)
                return
            except OSError:
                continue
        self._bind(host, [0] * len(SYSTEMS), handlers, context)

    # ---------------------------------------------------------------- addresses

    @property
    def company(self) -> Company:
        """The company currently served."""
        return self.simulator.company

    @property
    def ports(self) -> dict[str, int]:
        """The bound port per system."""
        return {s: int(srv.server_address[1]) for s, srv in self._servers.items()}

    @property
    def port(self) -> int:
        """The first vendor's port (``P`` of ``--port P`` when ports are consecutive)."""
        return self.ports[SYSTEMS[0]]

    @property
    def urls(self) -> dict[str, str]:
        """The HTTPS base URL per system (no trailing slash)."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return {s: f"https://{host}:{p}" for s, p in self.ports.items()}

    @property
    def base_url(self) -> str:
        """The first vendor's base URL (kept for callers that want one address)."""
        return self.urls[SYSTEMS[0]]

    def env(self) -> dict[str, str]:
        """The environment pointing every connector at this server (see ``env_exports``)."""
        return env_exports(self)

    # ---------------------------------------------------------------- control

    def set_as_of(self, as_of: datetime | str) -> Company:
        """Move the simulated clock: regenerate the company at ``as_of`` and serve it."""
        when = parse_as_of(as_of) if isinstance(as_of, str) else as_of
        company = Company.generate(self.company.seed, self.company.scale, when)
        company.crm.warm()
        self.simulator.set_company(company)
        # the company served until now was frozen out of the collector (freeze_generated):
        # let a collection reclaim it, then freeze the new one with its CRM views
        gc.unfreeze()
        freeze_generated()
        return company

    def expire_tokens(self) -> int:
        """Expire every OAuth-minted access token now (static tokens stay valid)."""
        return self.simulator.tokens.expire_all()

    def start(self) -> SimulatorServer:
        """Serve from daemon threads; returns self. The CRM views are built first and the
        company frozen out of the garbage collector with them (:func:`freeze_generated`), so
        no page pays for collections that walk the whole company."""
        if not self._threads:
            self.company.crm.warm()
            freeze_generated()
            for system, server in self._servers.items():
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name=f"revops-simulator-{system}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        return self

    def serve_forever(self) -> None:
        """Serve until :meth:`stop` or KeyboardInterrupt."""
        self.start()
        try:
            while not self._stopped.wait(0.5):
                pass
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving and close the sockets."""
        self._stopped.set()
        if self._threads:
            stoppers = [
                threading.Thread(target=server.shutdown, daemon=True)
                for server in self._servers.values()
            ]
            for stopper in stoppers:
                stopper.start()
            for thread in [*stoppers, *self._threads]:
                thread.join(timeout=5)
            self._threads = []
        for server in self._servers.values():
            server.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(
    seed: int = 42,
    scale: float = 1.0,
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: FaultConfig | str | None = None,
    as_of: datetime | str | None = None,
    cert_dir: Path | str | None = None,
    history_days: int | None = None,
) -> None:
    """Generate the company and serve it in the foreground until Ctrl-C or SIGTERM (``revops
    simulate serve``; ``docker compose stop`` sends SIGTERM).

    ``faults`` is a :class:`FaultConfig` or a ``RATE[:KINDS]`` string; ``as_of`` an ISO date or
    date-time (default: now, truncated to the minute); ``history_days`` how far back the
    company's data goes (default :data:`~revops.simulator.company.HISTORY_DAYS`).
    """
    if threading.current_thread() is threading.main_thread():
        # stop cleanly on both, even when started by a parent that ignores SIGINT (a background
        # job of a script, some process managers): Python leaves an inherited ignore in place
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop_signal, _interrupt)
    if isinstance(faults, str):
        faults = FaultConfig.parse(faults, seed=seed)
    when = parse_as_of(as_of) if isinstance(as_of, str) else as_of
    started = time.monotonic()
    history_days = HISTORY_DAYS if history_days is None else history_days
    company = Company.generate(seed=seed, scale=scale, as_of=when, history_days=history_days)
    server = SimulatorServer(company, host=host, port=port, faults=faults, cert_dir=cert_dir)
    server.simulator.warm()  # serving means ready: no connector's first request builds views
    urls = ", ".join(f"{s}={u}" for s, u in server.urls.items())
    print(
        f"revops simulator serving seed={seed} scale={scale} history_days={history_days} "
        f"as_of={company.as_of.isoformat()} "
        f'at {server.base_url} - point connectors at it with: eval "$(revops simulate env '
        f'--port {server.port})"',
        flush=True,
    )
    print(
        f"  generated in {time.monotonic() - started:.1f}s; {urls}; "
        f"CA bundle {server.tls.ca_bundle}; faults "
        f"{'off' if not (faults and faults.active) else faults}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print("revops simulator stopped", flush=True)
