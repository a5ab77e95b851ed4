"""The simulator's own certificate authority and server certificate, for HTTPS on loopback.

Every vendor serves HTTPS, so connectors exercise certificate verification as they would
against the real APIs. :func:`ensure_certificates` keeps, in one directory,

* ``ca.pem`` - the CA certificate: the CA bundle clients trust (``REQUESTS_CA_BUNDLE``),
* ``ca-key.pem`` - its private key,
* ``server.pem`` / ``server-key.pem`` - the server certificate (signed by the CA) and its key,
  valid for ``localhost``, ``127.0.0.1``, ``::1`` and any other host asked for.

Files are reused across runs while they are valid, so ``revops simulate env`` (which prints
``REQUESTS_CA_BUNDLE``) and ``revops simulate serve`` agree whichever starts first. Keys are
ECDSA P-256: generating them takes milliseconds. Nothing here turns verification off: a client
without the bundle fails the handshake, as it would against a vendor with an unknown CA.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DEFAULT_HOSTS", "TlsFiles", "default_cert_dir", "ensure_certificates", "server_context"]

DEFAULT_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
CA_NAME = "revops simulator CA"
CA_DAYS = 3650
SERVER_DAYS = 825
RENEW_BEFORE = timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    """Where the CA bundle, server certificate and server key live."""

    ca_bundle: Path
    cert: Path
    key: Path


def default_cert_dir() -> Path:
    """``$REVOPS_HOME/simulator/tls`` (``./.revops/simulator/tls`` without ``REVOPS_HOME``)."""
    from revops.config import state_dir

    return state_dir() / "simulator" / "tls"


def _write(path: Path, data: bytes, private: bool = False) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    if private:
        tmp.chmod(0o600)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _san(hosts: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(h.strip("[]") for h in hosts if h):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _valid(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - RENEW_BEFORE > now


def _covers(cert: x509.Certificate, wanted: list[x509.GeneralName]) -> bool:
    try:
        have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return all(name in have for name in wanted)


def _new_ca(now: datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _new_server(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    names: list[x509.GeneralName],
    now: datetime,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def ensure_certificates(cert_dir: Path | str | None = None, hosts: Iterable[str] = ()) -> TlsFiles:
    """The CA bundle and server certificate in ``cert_dir``, created or renewed as needed.

    The server certificate covers :data:`DEFAULT_HOSTS` plus ``hosts``. Safe to call from
    several processes at once (the directory is locked while files are written).
    """
    directory = Path(cert_dir) if cert_dir is not None else default_cert_dir()
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    ca_key_path = directory / "ca-key.pem"
    wanted = _san([*DEFAULT_HOSTS, *(h for h in hosts if h not in ("", "0.0.0.0", "::"))])
    now = datetime.now(UTC)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ca_key: ec.EllipticCurvePrivateKey | None = None
        ca_cert: x509.Certificate | None = None
        if files.ca_bundle.exists() and ca_key_path.exists():
            try:
                ca_cert = x509.load_pem_x509_certificate(files.ca_bundle.read_bytes())
                loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
                if isinstance(loaded, ec.EllipticCurvePrivateKey) and _valid(ca_cert, now):
                    ca_key = loaded
            except ValueError:
                ca_key = None
        renew_server = True
        if ca_key is None or ca_cert is None:
            ca_key, ca_cert = _new_ca(now)
            _write(ca_key_path, _key_pem(ca_key), private=True)
            _write(files.ca_bundle, ca_cert.public_bytes(serialization.Encoding.PEM))
        elif files.cert.exists() and files.key.exists():
            try:
                server = x509.load_pem_x509_certificate(files.cert.read_bytes())
                renew_server = not (
                    _valid(server, now)
                    and _covers(server, wanted)
                    and server.issuer == ca_cert.subject
                )
                serialization.load_pem_private_key(files.key.read_bytes(), None)
            except ValueError:
                renew_server = True
        if renew_server:
            key, cert = _new_server(ca_key, ca_cert, wanted, now)
            _write(files.key, _key_pem(key), private=True)
            _write(files.cert, cert.public_bytes(serialization.Encoding.PEM))
    return files


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """A server-side TLS context presenting the simulator's certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(files.cert), str(files.key))
    return context
