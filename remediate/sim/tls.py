"""The simulator's certificate authority and server certificate.

Generated once per state directory and kept there, so a client that trusts `ca.pem` keeps
trusting the simulator across restarts (no `cert_validation=False` anywhere).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from remediate.support.statedir import private_dir, write_private


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def channel_binding(self) -> bytes:
        """RFC 5929 tls-server-end-point data for the server certificate (SHA-256 signed)."""
        certificate = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        digest = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()
        return b"tls-server-end-point:" + digest


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "remediate simulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name("remediate simulator CA")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
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
    write_private(key_path, _pem_key(key))
    write_private(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    return certificate, key


def ensure_certificates(directory: Path, hostnames: list[str], addresses: list[str]) -> TlsFiles:
    """The CA and a server certificate valid for `hostnames` and `addresses`."""
    directory = private_dir(directory)
    ca_cert, ca_key = _ca(directory)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    wanted = sorted({h.lower() for h in hostnames} | {"localhost"}), sorted(set(addresses) | {"127.0.0.1"})
    names_path = directory / "server-names.json"
    if (
        files.cert_file.exists()
        and names_path.exists()
        and json.loads(names_path.read_text()) == list(wanted)
    ):
        return files
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    alternative_names: list[x509.GeneralName] = [x509.DNSName(h) for h in wanted[0]]
    alternative_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in wanted[1]]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(wanted[0][0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    write_private(files.key_file, _pem_key(key))
    write_private(files.cert_file, certificate.public_bytes(serialization.Encoding.PEM))
    names_path.write_text(json.dumps(list(wanted)))
    return files
