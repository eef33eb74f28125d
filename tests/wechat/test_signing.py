"""The channel's WeChat Pay cryptography against messages built independently: v3 with
wechatpayv3's helpers and `cryptography`, v2 with the WeChat simulator's own signer."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpayv3.utils import rsa_sign, rsa_verify

from plugins.channel_wechat import signing_v2, signing_v3
from plugins.channel_wechat.signing_v3 import Unverified
from sandbox.wechat.keys import ecb_encrypt_req_info, v2_sign

APIV3 = b"0123456789abcdef0123456789abcdef"
V2_KEY = "abcdefghijklmnopqrstuvwxyz012345"
KEY_ID = "PUB_KEY_ID_0114232134912410000"


@pytest.fixture(scope="module")
def platform() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def notification(
    key: rsa.RSAPrivateKey,
    resource: dict[str, Any],
    *,
    at: int | None = None,
    aad: str = "transaction",
) -> tuple[dict[str, str], str]:
    nonce = "n0nce1234567"
    cipher = AESGCM(APIV3).encrypt(nonce.encode(), json.dumps(resource).encode(), aad.encode())
    body = json.dumps(
        {
            "id": "EV-1",
            "event_type": "TRANSACTION.SUCCESS",
            "resource_type": "encrypt-resource",
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(cipher).decode(),
                "nonce": nonce,
                "associated_data": aad,
                "original_type": "transaction",
            },
        }
    )
    stamp, hnonce = str(at or int(time.time())), "HDRNONCE"
    headers = {
        "Wechatpay-Serial": KEY_ID,
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": hnonce,
        "Wechatpay-Signature": rsa_sign(key, f"{stamp}\n{hnonce}\n{body}\n"),
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    return headers, body


def check(
    headers: dict[str, str], body: str, key: rsa.RSAPrivateKey, now: float | None = None
) -> None:
    signing_v3.check_signed(
        headers, body, key=key.public_key(), key_id=KEY_ID, now=now or time.time()
    )


def test_a_correct_v3_notification_verifies_and_decrypts(platform: rsa.RSAPrivateKey) -> None:
    headers, body = notification(platform, {"out_trade_no": "TH1", "amount": {"total": 100}})
    check(headers, body, platform)
    doc = signing_v3.decrypt_resource(APIV3, json.loads(body)["resource"])
    assert doc == {"out_trade_no": "TH1", "amount": {"total": 100}}


@pytest.mark.parametrize("case", [str.lower, str.upper])
def test_header_names_are_case_insensitive(platform: rsa.RSAPrivateKey, case: Any) -> None:
    """HTTP/2 and many proxies hand the headers over as ``wechatpay-serial``: a plain
    dict in any case still verifies, and still refuses a forgery."""
    headers, body = notification(platform, {"out_trade_no": "TH1"})
    recased = {case(name): value for name, value in headers.items()}
    check(recased, body, platform)
    with pytest.raises(Unverified, match="bad signature"):
        check(recased, body.replace("TRANSACTION", "TRANSACTIOM"), platform)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"Wechatpay-Signature": base64.b64encode(b"x" * 256).decode()}, "bad signature"),
        ({"Wechatpay-Signature": "not base64!"}, "bad signature"),
        ({"Wechatpay-Serial": "PUB_KEY_ID_OTHER"}, "unknown Wechatpay-Serial"),
        ({"Wechatpay-Nonce": "OTHER"}, "bad signature"),
        ({"Wechatpay-Signature-Type": "WECHATPAY2-SM2"}, "unsupported signature type"),
        ({"Wechatpay-Timestamp": "yesterday"}, "not a number"),
    ],
)
def test_forged_v3_headers_are_refused(
    platform: rsa.RSAPrivateKey, change: dict[str, str], reason: str
) -> None:
    headers, body = notification(platform, {"out_trade_no": "TH1"})
    with pytest.raises(Unverified, match=reason):
        check({**headers, **change}, body, platform)


def test_missing_headers_another_key_a_changed_body_and_stale_time_are_refused(
    platform: rsa.RSAPrivateKey,
) -> None:
    headers, body = notification(platform, {"out_trade_no": "TH1"})
    for name in ("Wechatpay-Signature", "Wechatpay-Serial", "Wechatpay-Timestamp"):
        with pytest.raises(Unverified, match="missing"):
            check({k: v for k, v in headers.items() if k != name}, body, platform)
    with pytest.raises(Unverified, match="bad signature"):
        check(headers, body.replace("TRANSACTION", "TRANSACTIOM"), platform)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged_headers, forged_body = notification(other, {"out_trade_no": "TH1"})
    with pytest.raises(Unverified, match="bad signature"):
        check(forged_headers, forged_body, platform)
    stale_headers, stale_body = notification(platform, {"x": 1}, at=int(time.time()) - 301)
    with pytest.raises(Unverified, match="stale"):
        check(stale_headers, stale_body, platform)
    check(stale_headers, stale_body, platform, now=time.time() - 2)  # within 5 min: fine


def test_tampered_or_misattributed_ciphertext_does_not_decrypt(
    platform: rsa.RSAPrivateKey,
) -> None:
    _, body = notification(platform, {"out_trade_no": "TH1"})
    resource = json.loads(body)["resource"]
    raw = bytearray(base64.b64decode(resource["ciphertext"]))
    raw[0] ^= 1
    for bad in (
        {**resource, "ciphertext": base64.b64encode(bytes(raw)).decode()},
        {**resource, "associated_data": "refund"},
        {**resource, "nonce": "other-nonce!"},
        {**resource, "algorithm": "AEAD_SM4_GCM"},
        {k: v for k, v in resource.items() if k != "ciphertext"},
    ):
        with pytest.raises(Unverified):
            signing_v3.decrypt_resource(APIV3, bad)
    with pytest.raises(Unverified):
        signing_v3.decrypt_resource(b"another-32-byte-key-for-aes-256!", resource)


def test_request_authorization_and_pay_sign_verify_with_the_public_algorithm(
    platform: rsa.RSAPrivateKey,
) -> None:
    merchant = platform  # any RSA key: what matters is the signed string
    auth = signing_v3.authorization(
        merchant,
        mchid="1900000001",
        serial="SERIAL1",
        method="POST",
        url="/v3/pay/transactions/jsapi",
        body='{"a":1}',
        timestamp=1700000000,
        nonce_str="ABC",
    )
    schema, _, rest = auth.partition(" ")
    fields = dict(part.split("=", 1) for part in rest.split(","))
    fields = {k: v.strip('"') for k, v in fields.items()}
    assert schema == "WECHATPAY2-SHA256-RSA2048"
    assert (fields["mchid"], fields["serial_no"], fields["timestamp"]) == (
        "1900000001",
        "SERIAL1",
        "1700000000",
    )
    signed = b'POST\n/v3/pay/transactions/jsapi\n1700000000\nABC\n{"a":1}\n'
    merchant.public_key().verify(
        base64.b64decode(fields["signature"]), signed, PKCS1v15(), hashes.SHA256()
    )
    pay = signing_v3.request_payment(
        merchant, appid="wxAPP", prepay_id="wx123", timestamp=1700000000, nonce_str="N"
    )
    assert pay["package"] == "prepay_id=wx123" and pay["signType"] == "RSA"
    # wechatpayv3's verifier joins three lines; ours are four, so feed it the first two
    # joined: "appid\ntimeStamp" + nonce + package — the bytes signed are identical.
    assert rsa_verify(
        "wxAPP\n1700000000", "N", "prepay_id=wx123", pay["paySign"], merchant.public_key()
    )


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_v2_signatures_match_an_independent_signer(sign_type: str) -> None:
    params = {"appid": "wxAPP", "mch_id": "1900", "total_fee": "100", "body": "门票", "empty": ""}
    ours = signing_v2.sign(params, V2_KEY, sign_type)
    assert ours == v2_sign(params, V2_KEY, sign_type)
    signing_v2.check({**params, "sign": ours}, V2_KEY, sign_type)
    with pytest.raises(Unverified, match="bad sign"):
        signing_v2.check({**params, "total_fee": "1", "sign": ours}, V2_KEY, sign_type)
    with pytest.raises(Unverified, match="missing"):
        signing_v2.check(params, V2_KEY, sign_type)
    xml = signing_v2.to_xml(params, V2_KEY, sign_type)
    parsed = signing_v2.parse_xml(xml.encode())
    signing_v2.check(parsed, V2_KEY, sign_type)
    assert parsed["body"] == "门票"


def test_v2_sign_type_cannot_be_downgraded() -> None:
    params = {"appid": "wxAPP", "total_fee": "100", "sign_type": "MD5"}
    md5 = v2_sign(params, V2_KEY, "MD5")
    with pytest.raises(Unverified, match="not the merchant's"):
        signing_v2.check({**params, "sign": md5}, V2_KEY, "HMAC-SHA256")


@pytest.mark.parametrize(
    "raw",
    [
        b"not xml",
        b"<xml><a>1</a>",
        b"<other><a>1</a></other>",
        b"<xml><a><b>1</b></a></xml>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><xml><a>&e;</a></xml>',
        "<xml><a>1</a></xml>".encode("utf-16"),
        b"<xml>" + b"<a>1</a>" * 20000 + b"</xml>",
    ],
)
def test_malformed_v2_xml_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        signing_v2.parse_xml(raw)


def test_v2_refund_req_info_decrypts_and_a_forged_one_does_not() -> None:
    inner = (
        "<root><out_trade_no><![CDATA[TH1]]></out_trade_no>"
        "<out_refund_no><![CDATA[RF1]]></out_refund_no>"
        "<refund_status><![CDATA[SUCCESS]]></refund_status></root>"
    )
    params = {
        "return_code": "SUCCESS",
        "appid": "wxAPP",
        "mch_id": "1900",
        "req_info": ecb_encrypt_req_info(V2_KEY, inner),
    }
    info = signing_v2.decrypt_refund(params, V2_KEY, "wxAPP", "1900")
    assert (info["out_refund_no"], info["refund_status"]) == ("RF1", "SUCCESS")
    forged = {**params, "req_info": ecb_encrypt_req_info("z" * 32, inner)}
    with pytest.raises(Unverified):
        signing_v2.decrypt_refund(forged, V2_KEY, "wxAPP", "1900")
    with pytest.raises(Unverified):
        signing_v2.decrypt_refund(params, V2_KEY, "wxOTHER", "1900")
