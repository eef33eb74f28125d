"""The TLS the hub speaks to WeChat Pay with: the merchant's API certificate (a TLS
client certificate WeChat issues, CN = merchant id; ``/secapi`` refuses a connection
without it) and the CAs trusted for WeChat Pay's server (the system's by default).

WeChat hands the certificate out as ``apiclient_cert.pem`` + ``apiclient_key.pem`` and as
``apiclient_cert.p12`` (password: the merchant id, unless changed). Both are read with
`cryptography`, checked (the key is the certificate's; it is a client certificate still
valid) and loaded into one `ssl.SSLContext` at start, so a wrong file fails at boot with
the setting's name. `ssl` loads certificates from files only: the key is written
encrypted with a one-time password, to a private temporary file removed at once.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import ssl
import tempfile
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12


class TLSSettingError(ValueError):
    """A certificate setting is unreadable or unusable; the message names it."""


def _pem_certificates(name: str, pem: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise TLSSettingError(f"{name} is not a PEM certificate") from None
    return certs


def load_pem(cert_pem: str, key_pem: str) -> tuple[object, list[x509.Certificate]]:
    """(private key, certificate chain) from ``apiclient_cert.pem`` / ``apiclient_key.pem``."""
    chain = _pem_certificates("WECHAT_CLIENT_CERT", cert_pem)
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise TLSSettingError("WECHAT_CLIENT_KEY is not an unencrypted PEM private key") from None
    return key, chain


def load_p12(p12_base64: str, password: str) -> tuple[object, list[x509.Certificate]]:
    """(private key, certificate chain) from ``apiclient_cert.p12`` (base64 in the setting)."""
    try:
        raw = base64.b64decode("".join(p12_base64.split()), validate=True)
    except (binascii.Error, ValueError):
        raise TLSSettingError("WECHAT_CLIENT_P12 is not base64") from None
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(raw, password.encode() or None)
    except (ValueError, TypeError):
        raise TLSSettingError(
            "WECHAT_CLIENT_P12 does not open (not PKCS#12, or WECHAT_CLIENT_P12_PASSWORD is wrong)"
        ) from None
    if key is None or cert is None:
        raise TLSSettingError("WECHAT_CLIENT_P12 holds no key and certificate")
    return key, [cert, *extra]


def _check(key: object, chain: list[x509.Certificate], now: datetime) -> None:
    cert = chain[0]
    public = getattr(key, "public_key", None)
    if public is None or public().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise TLSSettingError("the client key is not the client certificate's key")
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise TLSSettingError(
            f"the client certificate is not valid now (valid {cert.not_valid_before_utc:%Y-%m-%d}"
            f" to {cert.not_valid_after_utc:%Y-%m-%d})"
        )


def context(
    *,
    client: tuple[object, list[x509.Certificate]] | None = None,
    ca_bundle_pem: str = "",
    now: datetime | None = None,
) -> ssl.SSLContext:
    """A client context for WeChat Pay: trusts `ca_bundle_pem` (only it) when given, else
    the system's CAs; presents `client` (key, chain) when a server asks for one."""
    if ca_bundle_pem:
        _pem_certificates("WECHAT_PAY_CA_BUNDLE", ca_bundle_pem)
        ctx = ssl.create_default_context(cadata=ca_bundle_pem)
    else:
        ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if client is not None:
        key, chain = client
        _check(key, chain, now or datetime.now(UTC))
        _load_chain(ctx, key, chain)
    return ctx


def _load_chain(ctx: ssl.SSLContext, key: object, chain: list[x509.Certificate]) -> None:
    password = secrets.token_urlsafe(32)
    sealed = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode()),
    )
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain) + sealed
    try:
        load_pem_chain(ctx, pem, password)
    except ssl.SSLError as exc:
        raise TLSSettingError(f"the client certificate does not load: {exc}") from None


def load_pem_chain(ctx: ssl.SSLContext, pem: bytes, password: str | None = None) -> None:
    """`ctx.load_cert_chain` from memory: it reads files only, so the PEM (certificates,
    then the key) goes through a private directory removed at once.

    :raises ssl.SSLError: the chain or key does not load."""
    with tempfile.TemporaryDirectory(prefix="tickethub-tls-") as folder:  # 0700
        path = os.path.join(folder, "chain.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        ctx.load_cert_chain(path, password=password)


def certificate_cn(chain: list[x509.Certificate]) -> str:
    names = chain[0].subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""
