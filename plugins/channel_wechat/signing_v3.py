"""WeChat Pay API v3 cryptography, from WeChat's public algorithm, on `cryptography`.

- a request is signed with the merchant's RSA key over
  ``METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n`` (``Authorization: WECHATPAY2-SHA256-RSA2048``);
- WeChat's answers and notifications are signed with WeChat Pay's key over
  ``timestamp\\nnonce\\nbody\\n``; in public-key mode ``Wechatpay-Serial`` names that key;
- notification resources are AES-256-GCM with the APIv3 key;
- the mini-program's ``wx.requestPayment`` ``paySign`` is RSA over
  ``appid\\ntimeStamp\\nnonceStr\\npackage\\n``.

Pure functions: no I/O, so the tests check them against messages built independently.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import string
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from multidict import CIMultiDict, CIMultiDictProxy

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
WINDOW_SECONDS = 300  # WeChat's and ours: a signed message more than 5 minutes off is stale
_ALNUM = string.ascii_uppercase + string.digits


def nonce(length: int = 32) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def _message(*lines: str) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode("utf-8")


def sign(key: rsa.RSAPrivateKey, *lines: str) -> str:
    return base64.b64encode(key.sign(_message(*lines), PKCS1v15(), hashes.SHA256())).decode()


def verify(key: rsa.RSAPublicKey, signature: str, *lines: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, _message(*lines), PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def authorization(
    key: rsa.RSAPrivateKey,
    *,
    mchid: str,
    serial: str,
    method: str,
    url: str,
    body: str,
    timestamp: int,
    nonce_str: str,
) -> str:
    """The ``Authorization`` header of one request; `url` is the path with its query."""
    signature = sign(key, method.upper(), url, str(timestamp), nonce_str, body)
    return (
        f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce_str}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial}"'
    )


class Unverified(Exception):
    """A message claiming to come from WeChat Pay failed verification; `reason` says
    which check (and is safe to log: it holds no personal data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_signed(
    headers: Mapping[str, str],
    body: str,
    *,
    key: rsa.RSAPublicKey,
    key_id: str,
    now: float,
) -> None:
    """Verify WeChat's signature headers over `body`; raise `Unverified` on any miss.

    The serial is checked first (a message signed with another key cannot verify), then
    the timestamp window (a replayed message is stale), then the signature itself.
    Header names are case-insensitive (HTTP/2 and many proxies send them lower-case):
    a plain dict is looked up as a `CIMultiDict`."""
    if not isinstance(headers, (CIMultiDict, CIMultiDictProxy)):
        headers = CIMultiDict(headers)
    serial = headers.get("Wechatpay-Serial", "")
    signature = headers.get("Wechatpay-Signature", "")
    stamp = headers.get("Wechatpay-Timestamp", "")
    nonce_str = headers.get("Wechatpay-Nonce", "")
    if not (serial and signature and stamp and nonce_str):
        raise Unverified("missing Wechatpay-* signature headers")
    kind = headers.get("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
    if kind != SCHEMA:
        raise Unverified(f"unsupported signature type {kind[:40]!r}")
    if serial != key_id:
        raise Unverified(f"unknown Wechatpay-Serial {serial[:64]!r}")
    try:
        at = int(stamp)
    except ValueError:
        raise Unverified("Wechatpay-Timestamp is not a number") from None
    if abs(now - at) > WINDOW_SECONDS:
        raise Unverified(f"stale timestamp ({int(now - at)} s off)")
    if not verify(key, signature, stamp, nonce_str, body):
        raise Unverified("bad signature")


def decrypt_resource(apiv3_key: bytes, resource: Mapping[str, Any]) -> dict[str, Any]:
    """Open a notification's ``resource`` (AEAD_AES_256_GCM); raise `Unverified` when it
    does not authenticate (tampered ciphertext, wrong key, wrong associated data)."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise Unverified(f"unsupported algorithm {str(resource.get('algorithm'))[:40]!r}")
    try:
        cipher = base64.b64decode(str(resource["ciphertext"]), validate=True)
        nonce_bytes = str(resource["nonce"]).encode()
        aad = str(resource.get("associated_data") or "").encode()
        plain = AESGCM(apiv3_key).decrypt(nonce_bytes, cipher, aad or None)
        doc = json.loads(plain)
    except (KeyError, ValueError, binascii.Error, InvalidTag):
        raise Unverified("resource does not decrypt") from None
    if not isinstance(doc, dict):
        raise Unverified("resource is not an object")
    return doc


def request_payment(
    key: rsa.RSAPrivateKey, *, appid: str, prepay_id: str, timestamp: int, nonce_str: str
) -> dict[str, str]:
    """The parameters of ``wx.requestPayment`` for a v3 prepay id."""
    package = f"prepay_id={prepay_id}"
    return {
        "timeStamp": str(timestamp),
        "nonceStr": nonce_str,
        "package": package,
        "signType": "RSA",
        "paySign": sign(key, appid, str(timestamp), nonce_str, package),
    }
