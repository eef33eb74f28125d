"""Meituan's wire protocol: its global encryption and its MWS signature, by name.

Written as the partner's public documentation (``shared/reference/channels.md``)
states it, so the sandbox partner and the hub agree byte for byte:

``aes128cbc_base64_iv_rotated`` (a codec; Meituan "global encryption", unconfirmed)
    AES-128-CBC, PKCS#7, the IV is the 16-byte key rotated left by 8 bytes
    (``key[8:] + key[:8]``), ciphertext in standard base64. The spec's
    ``[encryption].trigger_header`` switches it on per request (whole document).
``hmac_sha1_mws`` (a signature scheme, both directions)
    ``Authorization: MWS {clientId}:{base64(HMAC-SHA1(clientSecret,
    METHOD + " " + URI + "\\n" + Date))}`` with ``Date`` in RFC 1123 GMT; ``URI`` is the
    request target as sent — the path and, when there is one, ``?`` and the query.

The code lives in the plugin so removing ``plugins/channel_meituan`` removes Meituan's
protocol too; the spec (``meituan.toml`` beside this file) names the schemes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import format_datetime
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from hub.sdk import hookimpl
from hub.sdk.channels import (
    ChannelSpec,
    ChannelSpecRegistry,
    CodecRegistry,
    HttpCall,
    SignatureCheck,
    SignatureSchemeRegistry,
    aes_cbc_decrypt,
    aes_cbc_encrypt,
    b64decode_strict,
    key16,
    load_spec,
    locate,
)

SPEC_FILE = resources.files(__package__) / "meituan.toml"
"""Meituan's channel spec, shipped inside this plugin."""
GLOBAL_ENCRYPTION = "aes128cbc_base64_iv_rotated"
MWS = "hmac_sha1_mws"


def meituan_iv(key: str) -> bytes:
    """Meituan's IV: the key rotated left by 8 bytes (unconfirmed, see module doc)."""
    raw = key16(key, "key")
    return raw[8:] + raw[:8]


def meituan_encrypt(plain: bytes, key: str) -> str:
    """Meituan global encryption: AES-128-CBC, IV = rotated key, base64 text."""
    raw = key16(key, "key")
    return base64.b64encode(aes_cbc_encrypt(plain, raw, meituan_iv(key))).decode("ascii")


def meituan_decrypt(text: str, key: str) -> bytes:
    """Inverse of `meituan_encrypt`; every malformed input raises `CodecError`."""
    return aes_cbc_decrypt(b64decode_strict(text), key16(key, "key"), meituan_iv(key))


def meituan_mws_authorization(
    client_id: str, client_secret: str, method: str, uri: str, date_rfc1123: str
) -> str:
    """The ``Authorization`` header value Meituan sends and expects."""
    to_sign = f"{method.upper()} {uri}\n{date_rfc1123}".encode()
    mac = hmac.new(client_secret.encode("utf-8"), to_sign, hashlib.sha1).digest()
    return f"MWS {client_id}:{base64.b64encode(mac).decode('ascii')}"


def verify_meituan_mws(
    header: str, client_id: str, client_secret: str, method: str, uri: str, date_rfc1123: str
) -> bool:
    """Constant-time check of an ``Authorization`` header."""
    expected = meituan_mws_authorization(client_id, client_secret, method, uri, date_rfc1123)
    return hmac.compare_digest(expected.encode("utf-8"), header.encode("utf-8"))


def mws_uri(url: str) -> str:
    """The URI MWS signs: the request target of ``url`` — its path and, when it has one,
    ``?`` and its query, as written (a configured URL is already encoded). The inbound
    check signs the same part of a request (`hub.channels.verify.HttpCall.target`): one
    rule both ways."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class GlobalEncryption:
    """``aes128cbc_base64_iv_rotated`` as a `BodyCodec` (the IV comes from the key)."""

    needs_key = True
    needs_iv = False

    def encode(self, plain: bytes, key: str, iv: str) -> str:
        return meituan_encrypt(plain, key)

    def decode(self, text: str, key: str, iv: str) -> bytes:
        return meituan_decrypt(text, key)


class MwsScheme:
    """``hmac_sha1_mws``: checks the ``Authorization`` header of a call to us and signs
    ours (`hub.channels.schemes.HeaderSigner`)."""

    needs_client_id = True
    names_method = False
    uses_fields = False

    def verify(self, check: SignatureCheck, given: str, call: HttpCall, doc: Any) -> bool:
        date = locate(check.side.timestamp or "header:Date", call, doc)
        if not isinstance(date, str) or not date:
            raise ValueError("Date header missing")
        return verify_meituan_mws(
            given, check.client_id, check.secret, call.method, call.target, date
        )

    def sign_headers(
        self, *, client_id: str, secret: str, method: str, url: str, body: bytes, at: datetime
    ) -> dict[str, str]:
        date = format_datetime(at.astimezone(UTC), usegmt=True)
        auth = meituan_mws_authorization(client_id, secret, method, mws_uri(url), date)
        return {"Date": date, "Authorization": auth}


@hookimpl
def register_codecs(registry: CodecRegistry) -> None:
    registry.add(GLOBAL_ENCRYPTION, GlobalEncryption(), default=True)


@hookimpl
def register_signature_schemes(registry: SignatureSchemeRegistry) -> None:
    registry.add(MWS, MwsScheme(), default=True)


@hookimpl
def register_channel_specs(registry: ChannelSpecRegistry) -> None:
    registry.add("meituan", SPEC_FILE, default=True)


def spec() -> ChannelSpec:
    """Meituan's spec, read from this plugin's own file."""
    return load_spec(SPEC_FILE)
