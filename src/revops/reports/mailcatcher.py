"""A real SMTP server that keeps every message it receives as a ``.eml`` file: for the demo
and the tests, so the report goes through the same smtplib path as in production.

Built on aiosmtpd's threaded ``Controller``. ``port=0`` picks a free port; :attr:`MailCatcher.port`
is the real one once started. Each message is stored under ``outbox`` as
``<UTC timestamp>-<hash of its Message-ID>.eml`` with the SMTP envelope prepended as
``X-MailFrom``/``X-RcptTo`` headers (and ``X-Auth-Login`` when the client logged in); a file is
never overwritten. With ``credentials`` set the server offers AUTH (PLAIN, LOGIN); without
``tls`` it does so in the clear, which only a local test server should do. With ``tls`` (a
certificate and key file) it offers STARTTLS and requires it before AUTH.

Run one by hand with ``python -m revops.reports.mailcatcher --outbox out/mail --port 1025``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import ssl
import threading
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from revops.config import private_dir

SERVER_NAME = "revops-mailcatcher"


class _Handler:
    """aiosmtpd handler: store each message's bytes under the outbox."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        content: bytes = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        newline = b"\r\n" if b"\r\n" in content[:2000] else b"\n"
        trace = [
            f"X-MailFrom: {envelope.mail_from}",
            f"X-RcptTo: {', '.join(envelope.rcpt_tos)}",
        ]
        if getattr(session, "authenticated", False) and isinstance(
            session.auth_data, LoginPassword
        ):
            trace.append(f"X-Auth-Login: {session.auth_data.login.decode('utf-8', 'replace')}")
        data = newline.join(line.encode("utf-8") for line in trace) + newline + content
        self.store(data)
        return "250 OK stored"

    def store(self, data: bytes) -> Path:
        """Write one message as a new ``.eml`` file and return its path."""
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(data)
        key = (headers.get("Message-ID") or "").strip().encode() or data
        digest = hashlib.sha256(key).hexdigest()[:16]
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        private_dir(self.outbox)
        with self._lock:
            partial = self.outbox / f".{stamp}-{digest}.partial"
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            try:
                for attempt in range(1000):
                    suffix = f"-{attempt}" if attempt else ""
                    target = self.outbox / f"{stamp}-{digest}{suffix}.eml"
                    try:
                        os.link(partial, target)  # fails instead of overwriting
                    except FileExistsError:
                        continue
                    return target
                raise FileExistsError(f"no free file name for {stamp}-{digest} in {self.outbox}")
            finally:
                partial.unlink(missing_ok=True)


class _Controller(Controller):
    """aiosmtpd's Controller, binding port 0 to a free port and remembering the real one."""

    def _create_server(self) -> Awaitable[Any]:
        async def bind() -> Any:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return bind()


class MailCatcher:
    """An SMTP server on ``host:port`` storing what it receives under ``outbox``."""

    def __init__(
        self,
        outbox: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: tuple[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.outbox = Path(outbox)
        self.host = host
        self._requested_port = port
        self._credentials = credentials
        self._tls = tls
        self._controller: _Controller | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the chosen one when started with ``port=0``)."""
        if self._controller is None:
            return self._requested_port
        return int(self._controller.port)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            self._credentials is not None
            and isinstance(auth_data, LoginPassword)
            and auth_data.login.decode("utf-8", "replace") == self._credentials[0]
            and auth_data.password.decode("utf-8", "replace") == self._credentials[1]
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def start(self) -> MailCatcher:
        """Start listening (in a background thread); return self."""
        if self._controller is not None:
            return self
        private_dir(self.outbox)
        auth: dict[str, Any] = {}
        if self._credentials is not None:
            auth = {"authenticator": self._authenticate, "auth_require_tls": self._tls is not None}
        if self._tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self._tls[0]), str(self._tls[1]))
            auth["tls_context"] = context
        controller = _Controller(
            _Handler(self.outbox),
            hostname=self.host,
            port=self._requested_port,
            server_hostname=SERVER_NAME,
            **auth,
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening; the stored messages stay."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def paths(self) -> list[Path]:
        """The stored ``.eml`` files, oldest first."""
        return sorted(self.outbox.glob("*.eml"))

    def messages(self) -> list[EmailMessage]:
        """Every stored message, parsed, oldest first."""
        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(path.read_bytes()) for path in self.paths()]  # type: ignore[misc]


def main(argv: list[str] | None = None) -> None:
    """Run a mail catcher in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description="Keep every e-mail sent to this SMTP server.")
    parser.add_argument("--outbox", type=Path, default=Path("out") / "mail")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    args = parser.parse_args(argv)
    with MailCatcher(args.outbox, args.host, args.port) as catcher:
        print(
            f"mailcatcher on {catcher.host}:{catcher.port}, storing to {catcher.outbox}", flush=True
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
