"""``aimark keys generate``: keys for security data (SM2, Ed25519) and a test PKI for C2PA.

Private keys are written with mode 0600, atomically, and never printed or logged; an existing
file is never overwritten unless asked. The C2PA PKI is for tests and pilots: a new private root
CA and an EC P-256 signing certificate with the profile c2pa-python accepts (CA:FALSE, critical
KeyUsage digitalSignature, EKU emailProtection); production signing needs a certificate from a
CA on the C2PA trust list.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

from .api import atomic_write
from .errors import OutputError
from .sm2 import PrivateKey


@dataclass(frozen=True)
class Written:
    path: str
    secret: bool

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "secret": self.secret}


def _write(directory: str, name: str, data: bytes, *, secret: bool, force: bool) -> Written:
    path = os.path.join(directory, name)
    if os.path.exists(path) and not force:
        raise OutputError("exists (give --force to replace it)", path=path)
    atomic_write(path, data, mode=0o600 if secret else 0o644)
    return Written(path, secret)


def _dir(directory: str) -> None:
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the directory: {exc.strerror}", path=directory) from None


def generate_sm2(directory: str, *, force: bool = False) -> list[Written]:
    """``sm2-key.pem`` (PKCS#8, 0600) and ``sm2-pub.pem`` in ``directory``."""
    _dir(directory)
    key = PrivateKey.generate()
    return [
        _write(directory, "sm2-key.pem", key.to_pem(), secret=True, force=force),
        _write(directory, "sm2-pub.pem", key.public_key().to_pem(), secret=False, force=force),
    ]


def generate_ed25519(directory: str, *, force: bool = False) -> list[Written]:
    """``ed25519-key.pem`` (PKCS#8, 0600) and ``ed25519-pub.pem``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    _dir(directory)
    key = ed25519.Ed25519PrivateKey.generate()
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return [
        _write(directory, "ed25519-key.pem", priv, secret=True, force=force),
        _write(directory, "ed25519-pub.pem", pub, secret=False, force=force),
    ]


def generate_c2pa(directory: str, *, name: str = "aimark test signer", days: int = 365, force: bool = False) -> list[Written]:
    """A private test root (``c2pa-root.pem``, its key ``c2pa-root-key.pem``) and a signing
    certificate chain ``c2pa-chain.pem`` (leaf first, then the root) with its key
    ``c2pa-key.pem``. Give ``c2pa-root.pem`` to ``aimark verify --trust-anchors``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    _dir(directory)
    now = datetime.datetime.now(datetime.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "aimark test root"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "aimark")]
    )
    usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement", "encipher_only", "decipher_only"), False
    )
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=10 * days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "aimark")])
        )
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )

    def pem_key(k: ec.EllipticCurvePrivateKey) -> bytes:
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    root_pem = root.public_bytes(serialization.Encoding.PEM)
    return [
        _write(directory, "c2pa-root.pem", root_pem, secret=False, force=force),
        _write(directory, "c2pa-root-key.pem", pem_key(root_key), secret=True, force=force),
        _write(directory, "c2pa-chain.pem", leaf.public_bytes(serialization.Encoding.PEM) + root_pem, secret=False, force=force),
        _write(directory, "c2pa-key.pem", pem_key(leaf_key), secret=True, force=force),
    ]


GENERATORS = {"sm2": generate_sm2, "ed25519": generate_ed25519, "c2pa": generate_c2pa}

__all__ = ["GENERATORS", "Written", "generate_c2pa", "generate_ed25519", "generate_sm2"]
