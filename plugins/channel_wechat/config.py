"""The merchant's WeChat settings, read once from the channel settings (``WECHAT_*``).

They arrive through ``TICKETHUB_CHANNEL_SETTINGS={"wechat": {...}}`` like every channel's
secrets. Keys are parsed here, at start, so a bad PEM fails loudly in the log at boot
instead of on the first payment; a hub without WeChat settings still starts and its
WeChat routes answer ``NOT_CONFIGURED``.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from plugins.channel_wechat import client_tls

log = logging.getLogger(__name__)

API_BASE = "https://api.weixin.qq.com"
PAY_BASE = "https://api.mch.weixin.qq.com"


class NotConfigured(Exception):
    """A setting the channel needs is missing or unusable."""


@dataclass(frozen=True)
class WeChatConfig:
    appid: str
    secret: str
    mchid: str
    pay_version: str  # "v3" | "v2"
    api_base: str
    pay_base: str
    notify_base: str
    secapi_base: str = ""  # where /secapi/ calls go: pay_base unless set
    # v3 (public-key mode)
    mch_private_key: rsa.RSAPrivateKey | None = None
    mch_serial: str = ""
    pay_public_key: rsa.RSAPublicKey | None = None
    pay_public_key_id: str = ""
    apiv3_key: bytes = b""
    # v2
    v2_key: str = ""
    v2_sign_type: str = "MD5"
    # TLS to WeChat Pay: None = the session's default (system CAs, no client certificate)
    pay_ssl: ssl.SSLContext | None = None
    client_cert: bool = False  # pay_ssl presents the merchant's API certificate (/secapi)
    # subscribe-message templates (not secrets; defaults name the venue's templates)
    template_issued: str = "tickets-issued"
    template_reminder: str = "visit-reminder"
    template_refund: str = "refund-notice"
    reminder_hour: int = 9  # local hour of the day before the visit
    utc_offset_hours: int = 8  # China Standard Time: WeChat's users

    @property
    def v3(self) -> bool:
        return self.pay_version == "v3"

    def notify_url(self, kind: str) -> str:
        return f"{self.notify_base.rstrip('/')}/api/wechat/notify/{self.pay_version}/{kind}"


def _need(settings: Mapping[str, Any], name: str) -> str:
    value = settings.get(name)
    if not value or not isinstance(value, str):
        raise NotConfigured(f"{name} is not set")
    return value


def load(settings: Mapping[str, Any]) -> WeChatConfig:
    """Parse and check the settings; raises `NotConfigured` naming the first problem."""
    version = str(settings.get("WECHAT_PAY_VERSION", "v3")).lower()
    if version not in ("v3", "v2"):
        raise NotConfigured(f"WECHAT_PAY_VERSION must be v3 or v2, not {version!r}")
    common: dict[str, Any] = {
        "appid": _need(settings, "WECHAT_APPID"),
        "secret": _need(settings, "WECHAT_SECRET"),
        "mchid": _need(settings, "WECHAT_MCHID"),
        "pay_version": version,
        "api_base": str(settings.get("WECHAT_API_BASE") or API_BASE).rstrip("/"),
        "pay_base": str(settings.get("WECHAT_PAY_BASE") or PAY_BASE).rstrip("/"),
        "secapi_base": str(
            settings.get("WECHAT_PAY_SECAPI_BASE") or settings.get("WECHAT_PAY_BASE") or PAY_BASE
        ).rstrip("/"),
        "notify_base": _need(settings, "WECHAT_NOTIFY_BASE"),
    }
    for name, field in (
        ("WECHAT_TEMPLATE_ISSUED", "template_issued"),
        ("WECHAT_TEMPLATE_REMINDER", "template_reminder"),
        ("WECHAT_TEMPLATE_REFUND", "template_refund"),
    ):
        if settings.get(name):
            common[field] = str(settings[name])
    common.update(_tls(settings, common["mchid"]))
    if version == "v2":
        if not common["client_cert"]:
            log.warning(
                "wechat pay v2 without the merchant's API certificate (WECHAT_CLIENT_CERT/KEY"
                " or WECHAT_CLIENT_P12): refunds will wait in the outbox until it is set"
            )
        sign_type = str(settings.get("WECHAT_V2_SIGN_TYPE", "MD5")).upper()
        if sign_type not in ("MD5", "HMAC-SHA256"):
            raise NotConfigured(f"WECHAT_V2_SIGN_TYPE must be MD5 or HMAC-SHA256, not {sign_type}")
        key = _need(settings, "WECHAT_V2_KEY")
        if len(key) != 32:
            raise NotConfigured("WECHAT_V2_KEY must be 32 characters")
        return WeChatConfig(**common, v2_key=key, v2_sign_type=sign_type)
    try:
        private = serialization.load_pem_private_key(
            _need(settings, "WECHAT_MCH_PRIVATE_KEY").encode(), password=None
        )
        public = serialization.load_pem_public_key(
            _need(settings, "WECHAT_PAY_PUBLIC_KEY").encode()
        )
    except ValueError as exc:
        raise NotConfigured(f"unreadable key: {exc}") from None
    if not isinstance(private, rsa.RSAPrivateKey) or not isinstance(public, rsa.RSAPublicKey):
        raise NotConfigured("WECHAT_MCH_PRIVATE_KEY / WECHAT_PAY_PUBLIC_KEY must be RSA keys")
    apiv3 = _need(settings, "WECHAT_APIV3_KEY").encode()
    if len(apiv3) != 32:
        raise NotConfigured("WECHAT_APIV3_KEY must be 32 bytes")
    return WeChatConfig(
        **common,
        mch_private_key=private,
        mch_serial=_need(settings, "WECHAT_MCH_SERIAL"),
        pay_public_key=public,
        pay_public_key_id=_need(settings, "WECHAT_PAY_PUBLIC_KEY_ID"),
        apiv3_key=apiv3,
    )


def _tls(settings: Mapping[str, Any], mchid: str) -> dict[str, Any]:
    """``pay_ssl`` from the certificate settings: the merchant's API certificate as PEM
    (``WECHAT_CLIENT_CERT`` + ``WECHAT_CLIENT_KEY``) or PKCS#12 (``WECHAT_CLIENT_P12``,
    base64, password ``WECHAT_CLIENT_P12_PASSWORD`` — WeChat's default is the merchant id),
    and the CAs trusted for WeChat Pay (``WECHAT_PAY_CA_BUNDLE``, PEM; the system's when
    unset)."""
    cert, key = (
        str(settings.get("WECHAT_CLIENT_CERT") or ""),
        str(settings.get("WECHAT_CLIENT_KEY") or ""),
    )
    p12 = str(settings.get("WECHAT_CLIENT_P12") or "")
    ca = str(settings.get("WECHAT_PAY_CA_BUNDLE") or "")
    if p12 and (cert or key):
        raise NotConfigured("set WECHAT_CLIENT_P12 or WECHAT_CLIENT_CERT/KEY, not both")
    if bool(cert) != bool(key):
        raise NotConfigured("WECHAT_CLIENT_CERT and WECHAT_CLIENT_KEY go together")
    try:
        if p12:
            password = settings.get("WECHAT_CLIENT_P12_PASSWORD")
            client = client_tls.load_p12(p12, mchid if password is None else str(password))
        elif cert:
            client = client_tls.load_pem(cert, key)
        else:
            client = None
        if client is None and not ca:
            return {"pay_ssl": None, "client_cert": False}
        ctx = client_tls.context(client=client, ca_bundle_pem=ca)
    except client_tls.TLSSettingError as exc:
        raise NotConfigured(str(exc)) from None
    if client is not None and client_tls.certificate_cn(client[1]) != mchid:
        log.warning("wechat client certificate CN is not the merchant id %s", mchid)
    return {"pay_ssl": ctx, "client_cert": client is not None}
