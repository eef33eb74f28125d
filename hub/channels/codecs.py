"""The named crypto, encoding and signature schemes a channel spec can refer to.

A spec says ``scheme = "md5_concat"`` or ``encryption = "aes128cbc_letters"``; this module
is where each name becomes bytes, written exactly as the partner's public documentation
(``shared/reference/channels.md``) states it, so a sandbox partner and the hub agree
byte for byte:

``aes128cbc_letters`` (Ctrip)
    AES-128-CBC with PKCS#5/7 padding; key and IV are the UTF-8 bytes of 16-character
    strings. The ciphertext is NOT base64: every byte ``b`` becomes two letters,
    ``chr(ord('a') + (b >> 4))`` then ``chr(ord('a') + (b & 0x0f))``, so only ``a``..``p``
    appear (``bytes([0x00, 0xFF, 0x3A])`` → ``"aappdk"``).
``aes128cbc_base64_iv_rotated`` (Meituan "global encryption", unconfirmed)
    AES-128-CBC, PKCS#7, the IV is the 16-byte key rotated left by 8 bytes
    (``key[8:] + key[:8]``), ciphertext in standard base64.
``md5_concat`` (Ctrip)
    ``md5`` hex of the plain concatenation of the parts, lower or upper case. Ctrip's
    parts are ``accountId + serviceName + requestTime + body + version + signKey`` with
    ``body`` the *encrypted* string.
``hmac_sha1_mws`` (Meituan, both directions)
    ``Authorization: MWS {clientId}:{base64(HMAC-SHA1(clientSecret,
    METHOD + " " + URI + "\\n" + Date))}`` with ``Date`` in RFC 1123 GMT; ``URI`` is the
    request target as sent — the path and, when there is one, ``?`` and the query.
``douyin_spi_sha256`` / ``douyin_spi_md5`` (Douyin SPI)
    ``client_secret`` then ``&k=v`` for each query parameter sorted by key then value,
    ``sign`` excluded, then ``&http_body=<raw body>`` when the body is not empty; sha256
    hex (header ``x-life-sign``) or md5 hex (legacy query parameter ``sign``).
``top_md5`` / ``top_hmac_md5`` / ``top_hmac_sha256`` (Fliggy TOP gateway)
    parameters sorted by key, ``key + value`` concatenated (``sign`` excluded);
    ``upper(md5(secret + s + secret))``, ``upper(HMAC-MD5(secret, s))`` or
    ``upper(HMAC-SHA256(secret, s))`` — TOP's ``sign_method`` ``md5`` / ``hmac`` /
    ``hmac-sha256``, which the caller names in its request (`TOP_SIGN_METHODS`).

Every decrypt failure is a `CodecError` (never a ``ValueError`` from the cipher library)
so an adapter answers the partner's "parse error" code instead of crashing, and every
verification compares in constant time so a forger learns nothing from timing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ENCRYPTION_SCHEMES = ("aes128cbc_letters", "aes128cbc_base64_iv_rotated", "none")
SIGNING_SCHEMES = (
    "md5_concat",
    "hmac_sha1_mws",
    "douyin_spi_sha256",
    "douyin_spi_md5",
    "top_md5",
    "top_hmac_md5",
    "top_hmac_sha256",
    "none",
)
BODY_ENCODINGS = ("aes128cbc_letters", "aes128cbc_base64_iv_rotated", "base64", "none")

Case = Literal["lower", "upper"]
TopMethod = Literal["md5", "hmac", "hmac-sha256"]
TOP_SIGN_METHODS: dict[str, TopMethod] = {
    "top_md5": "md5",
    "top_hmac_md5": "hmac",
    "top_hmac_sha256": "hmac-sha256",
}
"""Spec signing scheme → TOP's ``sign_method`` value."""
QueryParams = Mapping[str, str] | Iterable[tuple[str, str]]

_BLOCK = 16
_A = ord("a")


class CodecError(ValueError):
    """The input cannot be decoded or decrypted: the partner's 'parse error', not a bug."""


# ---------------------------------------------------------------- letters encoding


def letters_encode(data: bytes) -> str:
    """Ctrip's byte → two letters ``a``..``p`` (high nibble first)."""
    return "".join(chr(_A + (b >> 4)) + chr(_A + (b & 0x0F)) for b in data)


def letters_decode(text: str) -> bytes:
    """Inverse of `letters_encode`; any other letter or an odd length is a `CodecError`."""
    if len(text) % 2:
        raise CodecError("letters cipher has an odd length")
    out = bytearray()
    for i in range(0, len(text), 2):
        hi, lo = ord(text[i]) - _A, ord(text[i + 1]) - _A
        if not (0 <= hi < 16 and 0 <= lo < 16):
            raise CodecError(f"letters cipher has a character outside a..p at {i}")
        out.append(hi << 4 | lo)
    return bytes(out)


# ---------------------------------------------------------------- AES-128-CBC


def _key16(value: str, what: str) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) != _BLOCK:
        raise CodecError(f"{what} must be 16 bytes, got {len(raw)}")
    return raw


def _aes_encrypt(plain: bytes, key: bytes, iv: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(padded) + enc.finalize()


def _aes_decrypt(cipher: bytes, key: bytes, iv: bytes) -> bytes:
    if not cipher or len(cipher) % _BLOCK:
        raise CodecError("ciphertext is not a whole number of AES blocks")
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = dec.update(cipher) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:  # bad padding: tampered text or the wrong key
        raise CodecError("bad padding (tampered body or wrong key)") from exc


def ctrip_encrypt(plain: bytes, key: str, iv: str) -> str:
    """AES-128-CBC/PKCS5 with 16-character key and IV, written as letters a..p."""
    return letters_encode(_aes_encrypt(plain, _key16(key, "key"), _key16(iv, "iv")))


def ctrip_decrypt(text: str, key: str, iv: str) -> bytes:
    """Inverse of `ctrip_encrypt`; every malformed input raises `CodecError`."""
    return _aes_decrypt(letters_decode(text), _key16(key, "key"), _key16(iv, "iv"))


def meituan_iv(key: str) -> bytes:
    """Meituan's IV: the key rotated left by 8 bytes (unconfirmed, see module doc)."""
    raw = _key16(key, "key")
    return raw[8:] + raw[:8]


def meituan_encrypt(plain: bytes, key: str) -> str:
    """Meituan global encryption: AES-128-CBC, IV = rotated key, base64 text."""
    raw = _key16(key, "key")
    return base64.b64encode(_aes_encrypt(plain, raw, meituan_iv(key))).decode("ascii")


def meituan_decrypt(text: str, key: str) -> bytes:
    """Inverse of `meituan_encrypt`; every malformed input raises `CodecError`."""
    try:
        cipher = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise CodecError("body is not valid base64") from exc
    return _aes_decrypt(cipher, _key16(key, "key"), meituan_iv(key))


# ---------------------------------------------------------------- signatures


def _case(digest: str, case: Case) -> str:
    return digest.upper() if case == "upper" else digest.lower()


def md5_concat(parts: Sequence[str], case: Case = "lower") -> str:
    """md5 hex of the parts concatenated with no separator (UTF-8)."""
    return _case(hashlib.md5("".join(parts).encode("utf-8")).hexdigest(), case)


def ctrip_sign(
    account_id: str,
    service_name: str,
    request_time: str,
    body_cipher: str,
    version: str,
    sign_key: str,
) -> str:
    """Ctrip's ``sign``: lower md5 of the six fields in this order (body encrypted)."""
    return md5_concat([account_id, service_name, request_time, body_cipher, version, sign_key])


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


def _pairs(query: QueryParams) -> list[tuple[str, str]]:
    items = query.items() if isinstance(query, Mapping) else query
    return [(str(k), str(v)) for k, v in items]


def douyin_spi_string(client_secret: str, query: QueryParams, body: bytes) -> bytes:
    """The exact bytes Douyin hashes (exposed so a failing signature can be logged)."""
    pairs = sorted((k, v) for k, v in _pairs(query) if k != "sign")
    out = client_secret + "".join(f"&{k}={v}" for k, v in pairs)
    raw = out.encode("utf-8")
    if body:
        raw += b"&http_body=" + body
    return raw


def douyin_spi_sign(
    client_secret: str,
    query: QueryParams,
    body: bytes,
    scheme: Literal["sha256", "md5"] = "sha256",
) -> str:
    """Douyin SPI signature: sha256 (``x-life-sign``) or legacy md5 (``sign``), hex."""
    data = douyin_spi_string(client_secret, query, body)
    if scheme == "sha256":
        return hashlib.sha256(data).hexdigest()
    if scheme == "md5":
        return hashlib.md5(data).hexdigest()
    raise ValueError(f"unknown Douyin scheme {scheme!r}")


def verify_douyin_spi(
    signature: str,
    client_secret: str,
    query: QueryParams,
    body: bytes,
    scheme: Literal["sha256", "md5"] = "sha256",
) -> bool:
    """Constant-time check; hex case is ignored (Douyin sends lower case)."""
    expected = douyin_spi_sign(client_secret, query, body, scheme)
    return hmac.compare_digest(expected.encode("ascii"), signature.lower().encode("utf-8"))


def top_sign(
    params: Mapping[str, str],
    secret: str,
    method: TopMethod = "md5",
    body: bytes = b"",
) -> str:
    """Fliggy/TOP signature over the parameters sorted by key (``sign`` excluded).

    ``body``: a request whose business data travels as a raw (JSON) body signs it right
    after the sorted parameters, as the TOP SDKs' ``signTopRequest(params, body, …)``
    does for Qimen-style calls; without it a signed query could carry any body."""
    s = "".join(f"{k}{v}" for k, v in sorted(params.items()) if k != "sign").encode("utf-8")
    s += body
    key = secret.encode("utf-8")
    if method == "md5":
        return hashlib.md5(key + s + key).hexdigest().upper()
    if method == "hmac":
        return hmac.new(key, s, hashlib.md5).hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.new(key, s, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown TOP sign_method {method!r}")


def verify_top(
    signature: str,
    params: Mapping[str, str],
    secret: str,
    method: TopMethod = "md5",
    body: bytes = b"",
) -> bool:
    """Constant-time check of a TOP signature (case-insensitive hex)."""
    expected = top_sign(params, secret, method, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.upper().encode("utf-8"))


def verify_hex(expected: str, given: str) -> bool:
    """Constant-time, case-insensitive comparison of two hex digests."""
    return hmac.compare_digest(expected.lower().encode("utf-8"), given.lower().encode("utf-8"))
