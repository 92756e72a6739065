"""A throwaway certificate authority for tests.

Provider emulators serve HTTPS like the real providers do, so provider templates keep their
``https://`` URLs and xkit's TLS verification stays on. xkit trusts the test CA through
``XKIT_CA_BUNDLE``; Chromium is told to accept it through Playwright's ``ignore_https_errors``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class TestCertificates:
    """Paths of a CA certificate and of a server certificate it signed for localhost.

    ``ca_key`` lets a test peer have a certificate of its own issued for other names (the
    OAuth quirk emulator answers as slack.com, *.zendesk.com, ...)."""

    __test__ = False  # a name that starts with "Test", not a test class

    ca_cert: Path
    server_cert: Path
    server_key: Path
    ca_key: Path | None = None


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_test_certificates(directory: Path) -> TestCertificates:
    """Write a CA and a ``localhost``/``127.0.0.1`` server certificate into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("xkit test CA"))
        .issuer_name(_name("xkit test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = TestCertificates(
        ca_cert=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
        ca_key=directory / "ca-key.pem",
    )
    paths.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    assert paths.ca_key is not None
    paths.ca_key.write_bytes(_private_pem(ca_key))
    _write_server_certificate(
        ca_cert, ca_key, [x509.DNSName("localhost"),
                          x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        paths.server_cert, paths.server_key)
    return paths


def issue_server_certificate(
    certificates: TestCertificates, directory: Path, names: list[str]
) -> tuple[Path, Path]:
    """A server certificate (and its key) from the test CA for ``names`` — DNS names, which
    may be wildcards (``*.zendesk.com``) — plus localhost and 127.0.0.1."""
    assert certificates.ca_key is not None, "these certificates were made without a CA key"
    ca_cert = x509.load_pem_x509_certificate(certificates.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(certificates.ca_key.read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "server.pem", directory / "server-key.pem"
    alternative: list[x509.GeneralName] = [x509.DNSName("localhost"),
                                           x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    alternative += [x509.DNSName(name) for name in sorted(set(names))]
    _write_server_certificate(ca_cert, ca_key, alternative, cert_path, key_path)
    return cert_path, key_path


def _write_server_certificate(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    names: list[x509.GeneralName],
    cert_path: Path,
    key_path: Path,
) -> None:
    now = dt.datetime.now(dt.UTC)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_private_pem(server_key))


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
