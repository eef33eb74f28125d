"""The generic crypto pieces every partner protocol is built from, and the core schemes.

A spec names its body encoding and signature schemes (``body_encoding = "base64"``,
``scheme = "md5_concat"``); the names resolve through the registries of
`hub.channels.schemes`, filled by the ``register_codecs`` and
``register_signature_schemes`` hooks. A partner's own scheme (Ctrip's letters cipher,
Meituan's MWS, Douyin's SPI, Fliggy's TOP) lives in that partner's plugin, so deleting
the plugin deletes its protocol. What stays here is shared by several partners or by a
spec-only one: AES-128-CBC with PKCS#7, ``md5_concat`` (md5 of fields concatenated,
used by Ctrip and by `examples/channel_specs/tripnest.toml`), ``base64`` bodies and
constant-time hex comparison.

Every decrypt failure is a `CodecError` (never a ``ValueError`` from the cipher library)
so an adapter answers the partner's "parse error" code instead of crashing, and every
verification compares in constant time so a forger learns nothing from timing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from typing import Literal

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

Case = Literal["lower", "upper"]

BLOCK = 16


class CodecError(ValueError):
    """The input cannot be decoded or decrypted: the partner's 'parse error', not a bug."""


def key16(value: str, what: str) -> bytes:
    """The UTF-8 bytes of a 16-character key or IV; any other length is a `CodecError`."""
    raw = value.encode("utf-8")
    if len(raw) != BLOCK:
        raise CodecError(f"{what} must be 16 bytes, got {len(raw)}")
    return raw


def aes_cbc_encrypt(plain: bytes, key: bytes, iv: bytes) -> bytes:
    """AES-CBC with PKCS#7 padding (the cipher Ctrip and Meituan both use)."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(padded) + enc.finalize()


def aes_cbc_decrypt(cipher: bytes, key: bytes, iv: bytes) -> bytes:
    """Inverse of `aes_cbc_encrypt`; a wrong length or padding is a `CodecError`."""
    if not cipher or len(cipher) % BLOCK:
        raise CodecError("ciphertext is not a whole number of AES blocks")
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = dec.update(cipher) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:  # bad padding: tampered text or the wrong key
        raise CodecError("bad padding (tampered body or wrong key)") from exc


def b64decode_strict(text: str) -> bytes:
    """Standard base64 with validation; anything else is a `CodecError`."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise CodecError("body is not valid base64") from exc


def _case(digest: str, case: Case) -> str:
    return digest.upper() if case == "upper" else digest.lower()


def md5_concat(parts: Sequence[str], case: Case = "lower") -> str:
    """md5 hex of the parts concatenated with no separator (UTF-8)."""
    return _case(hashlib.md5("".join(parts).encode("utf-8")).hexdigest(), case)


def verify_hex(expected: str, given: str) -> bool:
    """Constant-time, case-insensitive comparison of two hex digests."""
    return hmac.compare_digest(expected.lower().encode("utf-8"), given.lower().encode("utf-8"))
