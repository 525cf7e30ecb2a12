"""A self-signed certificate so the local platform can be one HTTPS origin."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import re
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .procs import write_private_file

logger = logging.getLogger(__name__)

CERT_NAME = "server.crt"
KEY_NAME = "server.key"
VALIDITY = dt.timedelta(days=825)  # The longest lifetime browsers accept for TLS server certs.
RENEW_BEFORE = dt.timedelta(days=7)
DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")

_Name = x509.DNSName | x509.IPAddress
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})*")


def ensure_self_signed_cert(dir: Path, hostnames: list[str]) -> tuple[Path, Path]:
    """Return (cert, key) paths in `dir`, creating or renewing an ECDSA P-256 cert if needed."""
    wanted = _san_entries([*DEFAULT_NAMES, *hostnames])
    directory = Path(dir)
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    reason = _unusable_reason(cert_path, key_path, wanted)
    if reason is None:
        logger.debug("reusing TLS certificate %s", cert_path)
        return cert_path, key_path
    logger.info("creating TLS certificate %s (%s)", cert_path, reason)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_pem = _build_cert(key, wanted).public_bytes(serialization.Encoding.PEM)
    write_private_file(key_path, key_pem, mode=0o600)
    write_private_file(cert_path, cert_pem, mode=0o644)
    return cert_path, key_path


def cert_fingerprint(path: Path) -> str:
    """SHA-256 fingerprint of a PEM certificate as colon-separated upper-case hex."""
    cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _san_entries(names: list[str]) -> list[_Name]:
    """Turn host names and IP literals into SAN entries, rejecting malformed ones."""
    entries: list[_Name] = []
    for raw in names:
        if not isinstance(raw, str):
            raise ValueError(f"hostnames: {raw!r} is not a string")
        name = raw.strip().rstrip(".").lower()
        try:
            entry: _Name = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            if not _HOSTNAME.fullmatch(name):
                raise ValueError(
                    f"hostnames: {raw!r} is neither a DNS host name nor an IP address"
                ) from None
            entry = x509.DNSName(name)
        if entry not in entries:
            entries.append(entry)
    return entries


def _unusable_reason(cert_path: Path, key_path: Path, wanted: list[_Name]) -> str | None:
    """Why the existing pair cannot be reused, or None if it can."""
    if not cert_path.exists() or not key_path.exists():
        return "none yet"
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        return f"existing files unreadable: {exc}"
    if cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        return "key does not match certificate"
    if cert.not_valid_after_utc - dt.datetime.now(dt.UTC) < RENEW_BEFORE:
        return "expires within 7 days"
    try:
        present = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "no subjectAltName"
    missing = [e for e in wanted if e not in present]
    if missing:
        return f"host names added: {', '.join(str(e.value) for e in missing)}"
    if key_path.stat().st_mode & 0o077:
        os.chmod(key_path, 0o600)
    return None


def _build_cert(key: ec.EllipticCurvePrivateKey, names: list[_Name]) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MedCloudCare local"),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
