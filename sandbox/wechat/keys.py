"""Keys and the cryptography WeChat uses, written from WeChat's public algorithms.

Nothing here is borrowed from the client libraries the tests use (wechatpy, wechatpayv3),
so those libraries check the simulator rather than agree with themselves:

- v3 signatures: RSA-SHA256 with PKCS#1 v1.5 over newline-terminated lines, base64;
- v3 resources: AES-256-GCM with the APIv3 key, 12-character nonce, associated data;
- v2 signatures: MD5 or HMAC-SHA256 over the sorted non-empty ``k=v`` pairs joined by
  ``&`` followed by ``&key=API_KEY``, upper-case hex;
- v2 refund notices: ``req_info`` = base64(AES-256-ECB(PKCS#7(xml))) keyed by the
  lower-case hex md5 of the API key;
- mini-program data (phone number): AES-128-CBC with the session key, PKCS#7, base64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import string
from collections.abc import Mapping
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sandbox.wechat.config import WeChatSimConfig

_ALNUM = string.ascii_letters + string.digits


def random_str(length: int = 32, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


# --- RSA -------------------------------------------------------------------------------


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def load_private(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def sign_lines(key: rsa.RSAPrivateKey, *lines: str) -> str:
    """WeChat's v3 signature: every line followed by ``\\n``, RSA-SHA256, base64."""
    message = "".join(f"{line}\n" for line in lines).encode("utf-8")
    return base64.b64encode(key.sign(message, PKCS1v15(), hashes.SHA256())).decode("ascii")


def verify_lines(key: rsa.RSAPublicKey, signature: str, *lines: str) -> bool:
    message = "".join(f"{line}\n" for line in lines).encode("utf-8")
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message, PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


# --- AES -------------------------------------------------------------------------------


def gcm_encrypt(apiv3_key: str, plaintext: str, associated_data: str) -> dict[str, str]:
    """A v3 ``resource`` minus algorithm/original_type: ciphertext, nonce, associated_data."""
    nonce = random_str(12)
    cipher = AESGCM(apiv3_key.encode("utf-8")).encrypt(
        nonce.encode("utf-8"), plaintext.encode("utf-8"), associated_data.encode("utf-8")
    )
    return {
        "ciphertext": base64.b64encode(cipher).decode("ascii"),
        "nonce": nonce,
        "associated_data": associated_data,
    }


def _pkcs7(data: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    return padder.update(data) + padder.finalize()


def ecb_encrypt_req_info(v2_api_key: str, xml: str) -> str:
    """v2 refund notice ``req_info``: AES-256-ECB keyed by md5(API key) in lower hex."""
    key = hashlib.md5(v2_api_key.encode("utf-8")).hexdigest().encode("ascii")
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return base64.b64encode(enc.update(_pkcs7(xml.encode("utf-8"))) + enc.finalize()).decode()


def cbc_encrypt_b64(key: bytes, iv: bytes, plaintext: bytes) -> str:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(enc.update(_pkcs7(plaintext)) + enc.finalize()).decode("ascii")


# --- v2 signatures ---------------------------------------------------------------------

V2_SIGN_TYPES = ("MD5", "HMAC-SHA256")


def v2_sign(params: Mapping[str, Any], api_key: str, sign_type: str = "MD5") -> str:
    """Sign the non-empty parameters except ``sign`` the way WeChat Pay v2 does."""
    pairs = [
        f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] not in ("", None)
    ]
    pairs.append(f"key={api_key}")
    text = "&".join(pairs).encode("utf-8")
    if sign_type == "HMAC-SHA256":
        return hmac.new(api_key.encode("utf-8"), text, hashlib.sha256).hexdigest().upper()
    if sign_type == "MD5":
        return hashlib.md5(text).hexdigest().upper()
    raise ValueError(f"unknown v2 sign type {sign_type!r}")


# --- setup -----------------------------------------------------------------------------


class MerchantSetup(NamedTuple):
    """Both sides of one freshly generated merchant: the simulator's and the hub's."""

    config: WeChatSimConfig
    settings: dict[str, str]


def hub_settings(
    config: WeChatSimConfig,
    merchant_private_key_pem: str,
    *,
    base_url: str = "",
    notify_base: str = "",
    pay_version: str = "v3",
    v2_sign_type: str = "MD5",
) -> dict[str, str]:
    """The hub-side settings (names agreed with `plugins/channel_wechat`) for `config`."""
    if pay_version not in ("v3", "v2"):
        raise ValueError("pay_version is 'v3' or 'v2'")
    if v2_sign_type not in V2_SIGN_TYPES:
        raise ValueError(f"v2_sign_type is one of {V2_SIGN_TYPES}")
    return {
        "WECHAT_APPID": config.appid,
        "WECHAT_SECRET": config.app_secret,
        "WECHAT_MCHID": config.mchid,
        "WECHAT_PAY_VERSION": pay_version,
        "WECHAT_MCH_PRIVATE_KEY": merchant_private_key_pem,
        "WECHAT_MCH_SERIAL": config.merchant_serial,
        "WECHAT_PAY_PUBLIC_KEY": config.platform_public_key_pem,
        "WECHAT_PAY_PUBLIC_KEY_ID": config.platform_public_key_id,
        "WECHAT_APIV3_KEY": config.apiv3_key,
        "WECHAT_V2_KEY": config.v2_api_key,
        "WECHAT_V2_SIGN_TYPE": v2_sign_type,
        "WECHAT_API_BASE": base_url,
        "WECHAT_PAY_BASE": base_url,
        "WECHAT_NOTIFY_BASE": notify_base,
    }


def generate_merchant_setup(
    *,
    base_url: str = "",
    notify_base: str = "",
    pay_version: str = "v3",
    v2_sign_type: str = "MD5",
    time_scale: float = 1.0,
) -> MerchantSetup:
    """Fresh RSA-2048 key pairs and secrets for a test or the demo.

    The merchant key pair: its public half goes to the simulator (to verify requests),
    its private half to the hub. The platform key pair: private to the simulator (to
    sign), public to the hub with its id (``PUB_KEY_ID_…``) as in WeChat's public-key
    mode. `base_url` is usually unknown until the simulator listens: fill
    ``WECHAT_API_BASE``/``WECHAT_PAY_BASE`` later (or use `WeChatSimulator.hub_settings`).
    """
    merchant = new_rsa_key()
    platform = new_rsa_key()
    config = WeChatSimConfig(
        appid="wx" + os.urandom(8).hex(),
        app_secret=os.urandom(16).hex(),
        mchid=str(1_900_000_000 + secrets.randbelow(99_999_999)),
        merchant_public_key_pem=public_pem(merchant),
        merchant_serial=os.urandom(20).hex().upper(),
        platform_private_key_pem=private_pem(platform),
        platform_public_key_pem=public_pem(platform),
        platform_public_key_id="PUB_KEY_ID_" + os.urandom(16).hex().upper(),
        apiv3_key=random_str(32),
        v2_api_key=random_str(32),
        time_scale=time_scale,
    )
    settings = hub_settings(
        config,
        private_pem(merchant),
        base_url=base_url,
        notify_base=notify_base,
        pay_version=pay_version,
        v2_sign_type=v2_sign_type,
    )
    return MerchantSetup(config, settings)
