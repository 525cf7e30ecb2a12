"""The local HTTPS certificate: right names, private key, reused until it nears expiry."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from mcc_local import tls
from mcc_local.tls import cert_fingerprint, ensure_self_signed_cert


def load(cert_path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(cert_path.read_bytes())


def sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(ext.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)}
    return dns, ips


def test_cert_covers_loopback_and_given_names(tmp_path: Path) -> None:
    cert_path, key_path = ensure_self_signed_cert(tmp_path, ["mcc.test", "10.1.2.3"])
    cert = load(cert_path)
    dns, ips = sans(cert)
    assert dns == {"localhost", "mcc.test"}
    assert ips == {"127.0.0.1", "::1", "10.1.2.3"}
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=825) <= lifetime <= dt.timedelta(days=826)


def test_key_is_readable_only_by_its_owner(tmp_path: Path) -> None:
    _, key_path = ensure_self_signed_cert(tmp_path, [])
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_pair_loads_into_an_ssl_server_context(tmp_path: Path) -> None:
    cert_path, key_path = ensure_self_signed_cert(tmp_path, [])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)


def test_existing_cert_is_reused(tmp_path: Path) -> None:
    first = cert_fingerprint(ensure_self_signed_cert(tmp_path, ["mcc.test"])[0])
    second = cert_fingerprint(ensure_self_signed_cert(tmp_path, ["mcc.test"])[0])
    assert first == second


def test_cert_is_replaced_when_a_host_name_is_added(tmp_path: Path) -> None:
    first = cert_fingerprint(ensure_self_signed_cert(tmp_path, [])[0])
    cert_path, _ = ensure_self_signed_cert(tmp_path, ["new.mcc.test"])
    assert cert_fingerprint(cert_path) != first
    assert "new.mcc.test" in sans(load(cert_path))[0]


def test_cert_is_renewed_within_seven_days_of_expiry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tls, "VALIDITY", dt.timedelta(days=3))
    short_lived = cert_fingerprint(ensure_self_signed_cert(tmp_path, [])[0])
    monkeypatch.undo()
    cert_path, _ = ensure_self_signed_cert(tmp_path, [])
    assert cert_fingerprint(cert_path) != short_lived
    assert load(cert_path).not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=800)


def test_fingerprint_is_colon_separated_sha256(tmp_path: Path) -> None:
    cert_path, _ = ensure_self_signed_cert(tmp_path, [])
    fingerprint = cert_fingerprint(cert_path)
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", fingerprint)
    der = ssl.PEM_cert_to_DER_cert(cert_path.read_text())
    assert fingerprint.replace(":", "").lower() == hashlib.sha256(der).hexdigest()


@pytest.mark.parametrize("bad", ["", "two words", "https://mcc.test", "bad/name", "-x.test"])
def test_malformed_host_names_are_rejected_before_writing(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="hostnames"):
        ensure_self_signed_cert(tmp_path / "certs", [bad])
    assert not (tmp_path / "certs").exists()


def test_ipv6_literals_become_ip_sans(tmp_path: Path) -> None:
    cert_path, _ = ensure_self_signed_cert(tmp_path, ["fd00::1"])
    assert str(ipaddress.ip_address("fd00::1")) in sans(load(cert_path))[1]
