"""Self-signed certificates for the tests' own HTTPS servers (webhooks, an API server behind TLS)."""

from __future__ import annotations

import datetime
import ipaddress
import pathlib


def certificate(directory: pathlib.Path, names: list[str]) -> tuple[pathlib.Path, pathlib.Path]:
    """A self-signed certificate (its own CA, as a caBundle is) for 127.0.0.1 and DNS names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-webhook")])
    now = datetime.datetime.now(datetime.UTC)
    alternative: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    alternative.extend(x509.DNSName(name) for name in names)
    built = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert, pkey = (
        directory / f"{len(list(directory.iterdir()))}.crt",
        directory / f"{len(list(directory.iterdir()))}.key",
    )
    cert.write_bytes(built.public_bytes(serialization.Encoding.PEM))
    pkey.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, pkey
