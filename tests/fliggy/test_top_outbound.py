"""`plugins.channel_fliggy.top` on its own: the parameters and signature of a TOP call checked
against an independent reading of the formulas, and how TOP's answers are judged.
Also the generic TOP inbound additions (body signing, GMT+8 request time)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from hub.channels import load_all
from hub.channels.outbound import OutboundConfigError
from hub.channels.verify import parse_timestamp
from hub.contracts import DeliveryError
from plugins.channel_fliggy.protocol import top_sign, verify_top
from plugins.channel_fliggy.top import TopOutbound, response_key
from tests.fliggy.kit import fast_spec

SETTINGS = {"FLIGGY_APP_KEY": "k-1", "FLIGGY_APP_SECRET": "s3cret", "FLIGGY_TOP_URL": "http://x"}
AT = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


def by_hand(params: dict[str, str], secret: str, method: str) -> str:
    text = "".join(k + params[k] for k in sorted(params) if k != "sign")
    if method == "hmac":
        return hmac.new(secret.encode(), text.encode(), hashlib.md5).hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest().upper()
    return hashlib.md5((secret + text + secret).encode()).hexdigest().upper()


@pytest.mark.parametrize("method", ["md5", "hmac", "hmac-sha256"])
def test_parameters_and_signature(method: str) -> None:
    top = TopOutbound(fast_spec(sign_method=method), SETTINGS)
    business = {"order_id": "F1", "write_off_type": 0, "voucher_infos": [{"confirm_code": "c"}]}
    p = top.params("verify", business, at=AT)
    assert p["method"] == "taobao.travel.ticket.order.verify"
    assert (p["app_key"], p["format"], p["v"], p["sign_method"]) == ("k-1", "json", "2.0", method)
    assert p["timestamp"] == "2026-11-22 10:00:00"
    assert p["write_off_type"] == "0"
    assert json.loads(p["voucher_infos"]) == [{"confirm_code": "c"}]
    assert p["sign"] == by_hand(p, "s3cret", method)
    assert top.params("verify", business, at=AT) == p  # deterministic for a time


def test_missing_secrets_and_wrong_scheme_fail_at_start() -> None:
    with pytest.raises(OutboundConfigError, match="FLIGGY_APP_KEY"):
        TopOutbound(load_all()["fliggy"], {"FLIGGY_APP_SECRET": "s"})
    with pytest.raises(OutboundConfigError, match="top_"):
        TopOutbound(load_all()["ctrip"], SETTINGS)


@pytest.mark.parametrize(
    ("status", "answer", "retryable"),
    [
        (500, b"oops", True),
        (429, b"", True),
        (403, b"", False),
        (200, b"<html>proxy</html>", True),
        (200, b'{"something_else": {}}', True),
        (200, b'{"error_response": {"code": 7, "msg": "App Call Limited"}}', True),
        (200, b'{"error_response": {"code": 10, "msg": "Service Currently Unavailable"}}', True),
        (
            200,
            b'{"error_response": {"code": 15, "msg": "Remote service error",'
            b' "sub_code": "isp.remote-service-timeout"}}',
            True,
        ),
        (
            200,
            b'{"error_response": {"code": 15, "msg": "Remote service error",'
            b' "sub_code": "isv.order-not-exist"}}',
            False,
        ),
        (200, b'{"error_response": {"code": 25, "msg": "Invalid Signature"}}', False),
        (200, b'{"error_response": {"code": 27, "msg": "Invalid Session"}}', False),
    ],
)
def test_answers_are_judged(status: int, answer: bytes, retryable: bool) -> None:
    top = TopOutbound(load_all()["fliggy"], SETTINGS)
    with pytest.raises(DeliveryError) as info:
        top.judge("refund", status, answer)
    assert info.value.retryable is retryable


def test_success_is_the_apis_own_response() -> None:
    top = TopOutbound(load_all()["fliggy"], SETTINGS)
    key = response_key("taobao.travel.ticket.order.refund")
    assert key == "travel_ticket_order_refund_response"
    reply = top.judge("refund", 200, json.dumps({key: {"result": {"success": True}}}).encode())
    assert reply.body == {"result": {"success": True}}


def test_top_signature_can_cover_the_body() -> None:
    params = {"app_key": "k", "timestamp": "2026-11-22 10:00:00"}
    body = b'{"order_id":"F1"}'
    text = b"app_keyktimestamp2026-11-22 10:00:00" + body
    assert top_sign(params, "S", "md5", body) == hashlib.md5(b"S" + text + b"S").hexdigest().upper()
    mac = hmac.new(b"S", text, hashlib.md5).hexdigest().upper()
    assert top_sign(params, "S", "hmac", body) == mac
    assert verify_top(mac.lower(), params, "S", "hmac", body)
    assert not verify_top(mac, params, "S", "hmac", body + b" ")


def test_request_time_in_beijing() -> None:
    at = parse_timestamp("2026-11-22 10:00:00", "%Y-%m-%d %H:%M:%S", "Asia/Shanghai")
    assert at == AT
    assert parse_timestamp("2026-11-22 02:00:00", "%Y-%m-%d %H:%M:%S") == AT
