"""WeChat Pay API v2 (legacy merchants): signatures, XML and the refund ``req_info``.

wechatpy's pure helpers do the work (`calculate_signature` for MD5,
`calculate_signature_hmac` for HMAC-SHA256, `dict_to_xml`, `WeChatRefundCrypto`); its
blocking client is never used — HTTP goes through the hub's aiohttp session.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

import xmltodict
from wechatpy.crypto import WeChatRefundCrypto
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac, dict_to_xml

from plugins.channel_wechat.signing_v3 import Unverified

MAX_XML_BYTES = 64 * 1024


def sign(params: Mapping[str, Any], key: str, sign_type: str) -> str:
    """Sign the non-empty parameters other than ``sign`` (WeChat's v2 rule)."""
    data = {k: v for k, v in params.items() if k != "sign" and v not in ("", None)}
    if sign_type == "HMAC-SHA256":
        return str(calculate_signature_hmac(data, key))
    return str(calculate_signature(data, key))


def check(params: Mapping[str, Any], key: str, sign_type: str) -> None:
    """Raise `Unverified` unless ``params["sign"]`` is WeChat's signature of the rest.

    The signature type is the merchant's configured one (a message claiming another
    ``sign_type`` is refused, so a forger cannot downgrade HMAC to MD5)."""
    claimed = str(params.get("sign_type") or sign_type).upper()
    if claimed != sign_type:
        raise Unverified(f"sign_type {claimed[:20]} is not the merchant's {sign_type}")
    given = str(params.get("sign") or "")
    if not given:
        raise Unverified("missing sign")
    if not hmac.compare_digest(given.upper(), sign(params, key, sign_type)):
        raise Unverified("bad sign")


def to_xml(params: Mapping[str, Any], key: str, sign_type: str) -> str:
    data = {k: v for k, v in params.items() if v not in ("", None)}
    if sign_type == "HMAC-SHA256":
        data["sign_type"] = "HMAC-SHA256"
    return str(dict_to_xml(data, sign(data, key, sign_type)))


def parse_xml(raw: bytes) -> dict[str, str]:
    """A flat ``<xml>`` document to a dict of strings; raise `ValueError` on anything
    else (not XML, not UTF-8, a DTD, nested elements, too large)."""
    if len(raw) > MAX_XML_BYTES:
        raise ValueError("XML body too large")
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise ValueError("XML with a DTD is refused")
    try:
        doc = xmltodict.parse(raw.decode("utf-8"), disable_entities=True)
    except Exception as exc:  # expat's errors are several types; all mean "malformed"
        raise ValueError(f"malformed XML: {type(exc).__name__}") from None
    root = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(root, dict):
        raise ValueError("root element is not <xml>")
    out: dict[str, str] = {}
    for k, v in root.items():
        if v is None:
            out[k] = ""
        elif isinstance(v, str):
            out[k] = v
        else:
            raise ValueError(f"element {k[:32]} is not a flat value")
    return out


def answer(ok: bool, message: str = "OK") -> str:
    """The answer WeChat expects to a v2 notification."""
    code = "SUCCESS" if ok else "FAIL"
    return (
        f"<xml><return_code><![CDATA[{code}]]></return_code>"
        f"<return_msg><![CDATA[{message.replace(']]>', '')}]]></return_msg></xml>"
    )


def decrypt_refund(params: Mapping[str, str], key: str, appid: str, mchid: str) -> dict[str, str]:
    """Open a refund notice's ``req_info`` (AES-256-ECB keyed by md5 of the API key)."""
    try:
        info = WeChatRefundCrypto(key).decrypt_message(dict(params), appid, mchid)
    except Exception:  # bad base64, bad padding, wrong appid/mch_id, malformed inner XML
        raise Unverified("req_info does not decrypt") from None
    if not isinstance(info, dict):
        raise Unverified("req_info is not a document")
    return {k: ("" if v is None else str(v)) for k, v in info.items()}


def request_payment(
    *, appid: str, prepay_id: str, timestamp: int, nonce_str: str, key: str, sign_type: str
) -> dict[str, str]:
    """The parameters of ``wx.requestPayment`` for a v2 prepay id (MD5 or HMAC-SHA256)."""
    params = {
        "appId": appid,
        "timeStamp": str(timestamp),
        "nonceStr": nonce_str,
        "package": f"prepay_id={prepay_id}",
        "signType": sign_type,
    }
    pay_sign = sign(params, key, sign_type)
    return {k: v for k, v in params.items() if k != "appId"} | {"paySign": pay_sign}
