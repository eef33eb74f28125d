"""WeChat Pay v3 through wechatpayv3 (public-key mode): orders, signatures, notifications."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from itertools import pairwise
from typing import Any

import pytest
import requests
from wechatpayv3 import WeChatPay as WeChatPayV3
from wechatpayv3.utils import build_authorization, load_private_key

from sandbox.wechat import RETRY_SCHEDULE, WeChatSimulator, generate_merchant_setup
from tests.sandbox_wechat.conftest import Merchant, v3_client


def order_no() -> str:
    return "T" + uuid.uuid4().hex[:20]


async def create(
    wxpay: WeChatPayV3, merchant: Merchant, out_trade_no: str, total: int = 8800, **over: Any
) -> tuple[int, dict[str, Any]]:
    kwargs: dict[str, Any] = {
        "description": "Sunrise ticket",
        "out_trade_no": out_trade_no,
        "amount": {"total": total, "currency": "CNY"},
        "payer": {"openid": "o-buyer"},
        "notify_url": merchant.url("/notify/v3"),
    }
    kwargs.update(over)
    code, text = await asyncio.to_thread(wxpay.pay, **kwargs)
    return code, json.loads(text) if text else {}


def pay_sign_params(wxpay: WeChatPayV3, appid: str, prepay_id: str) -> dict[str, str]:
    """What the hub hands the mini-program for wx.requestPayment (v3, RSA)."""
    ts, nonce, package = str(int(time.time())), uuid.uuid4().hex, f"prepay_id={prepay_id}"
    return {
        "appId": appid,
        "timeStamp": ts,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": wxpay.sign([appid, ts, nonce, package]),
    }


async def test_order_query_close_with_signed_answers(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator
) -> None:
    no = order_no()
    code, body = await create(wxpay, merchant, no)  # wechatpayv3 verifies the answer's signature
    assert code == 200 and body["prepay_id"].startswith("wx")
    code, text = await asyncio.to_thread(wxpay.query, out_trade_no=no)
    queried = json.loads(text)
    assert code == 200 and queried["trade_state"] == "NOTPAY" and "transaction_id" not in queried
    assert queried["amount"]["total"] == 8800 and queried["payer"]["openid"] == "o-buyer"
    code, _ = await asyncio.to_thread(wxpay.close, out_trade_no=no)
    assert code == 204
    code, text = await asyncio.to_thread(wxpay.query, out_trade_no=no)
    assert json.loads(text)["trade_state"] == "CLOSED"
    with pytest.raises(ValueError, match="CLOSED"):
        await sim.pay(no)
    code, text = await asyncio.to_thread(wxpay.query, out_trade_no="T-unknown-1")
    assert code == 404 and json.loads(text)["code"] == "ORDER_NOT_EXIST"


async def test_repeated_out_trade_no(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator
) -> None:
    no = order_no()
    _, first = await create(wxpay, merchant, no)
    code, again = await create(wxpay, merchant, no)
    assert code == 200 and again["prepay_id"] == first["prepay_id"]
    code, changed = await create(wxpay, merchant, no, total=9900)
    assert code == 400 and changed["code"] == "INVALID_REQUEST"
    await (await sim.pay(no)).wait()
    code, paid = await create(wxpay, merchant, no)
    assert code == 400 and paid["code"] == "ORDERPAID"
    code, closing = await asyncio.to_thread(wxpay.close, out_trade_no=no)
    assert code == 400 and json.loads(closing)["code"] == "ORDERPAID"


async def test_bad_fields_are_param_errors(wxpay: WeChatPayV3, merchant: Merchant) -> None:
    code, body = await create(wxpay, merchant, order_no(), total=0)
    assert code == 400 and body["code"] == "PARAM_ERROR"
    code, body = await create(wxpay, merchant, "bad no!")
    assert (
        code == 400 and body["code"] == "PARAM_ERROR" and body["detail"]["field"] == "out_trade_no"
    )
    code, body = await create(wxpay, merchant, order_no(), appid="wx-other")
    assert code == 400 and body["code"] == "APPID_MCHID_NOT_MATCH"


async def test_merchant_signature_is_checked(
    sim: WeChatSimulator, settings: dict[str, str], merchant: Merchant
) -> None:
    impostor_keys = generate_merchant_setup().settings
    impostor = v3_client(
        {**settings, "WECHAT_MCH_PRIVATE_KEY": impostor_keys["WECHAT_MCH_PRIVATE_KEY"]},
        sim.base_url,
    )
    code, body = await create(impostor, merchant, order_no())
    assert code == 401 and body["code"] == "SIGN_ERROR"
    wrong_serial = v3_client({**settings, "WECHAT_MCH_SERIAL": "0" * 40}, sim.base_url)
    code, body = await create(wrong_serial, merchant, order_no())
    assert code == 401 and body["code"] == "SIGN_ERROR"

    # a genuine signature over one body, sent with another body
    key = load_private_key(settings["WECHAT_MCH_PRIVATE_KEY"])
    path = "/v3/pay/transactions/jsapi"
    signed = {"appid": settings["WECHAT_APPID"], "mchid": settings["WECHAT_MCHID"]}
    auth = build_authorization(
        path, "POST", settings["WECHAT_MCHID"], settings["WECHAT_MCH_SERIAL"], key, data=signed
    )
    tampered = await asyncio.to_thread(
        requests.post,
        sim.base_url + path,
        data=json.dumps({**signed, "description": "changed"}),
        headers={"Authorization": auth, "Content-Type": "application/json"},
        timeout=5,
    )
    assert tampered.status_code == 401 and tampered.json()["code"] == "SIGN_ERROR"
    missing = await asyncio.to_thread(requests.post, sim.base_url + path, data="{}", timeout=5)
    assert missing.status_code == 401 and missing.json()["code"] == "SIGN_ERROR"
    assert sim.v3.refused_requests == 4
    assert not sim.ledger.transactions


async def test_pay_sends_notice_the_library_verifies(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator, settings: dict[str, str]
) -> None:
    no = order_no()
    _, body = await create(wxpay, merchant, no, attach="order-42")
    params = pay_sign_params(wxpay, settings["WECHAT_APPID"], body["prepay_id"])
    with pytest.raises(ValueError, match="paySign"):
        await sim.pay(no, pay_sign_params={**params, "nonceStr": "tampered"})
    notice = await (await sim.pay(no, pay_sign_params=params)).wait()
    assert notice.acknowledged and len(notice.deliveries) == 1
    [got] = merchant.received
    verified = got.verified
    assert verified["event_type"] == "TRANSACTION.SUCCESS" and verified["id"] == notice.id
    resource = verified["resource"]
    assert resource["out_trade_no"] == no and resource["trade_state"] == "SUCCESS"
    assert resource["amount"]["total"] == 8800 and resource["attach"] == "order-42"
    assert resource["mchid"] == settings["WECHAT_MCHID"]
    assert got.headers["Wechatpay-Serial"] == settings["WECHAT_PAY_PUBLIC_KEY_ID"]
    _, text = await asyncio.to_thread(wxpay.query, out_trade_no=no)
    assert json.loads(text)["transaction_id"] == resource["transaction_id"]
    with pytest.raises(ValueError, match="SUCCESS"):
        await sim.pay(no)


async def test_retries_on_schedule_until_acknowledged(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator
) -> None:
    no = order_no()
    await create(wxpay, merchant, no)
    merchant.script = [500, 503, 404, 200]
    notice = await (await sim.pay(no)).wait()
    assert [a.status for a in notice.attempts] == [500, 503, 404, 200]
    assert [a.acknowledged for a in notice.attempts] == [False, False, False, True]
    assert [a.after for a in notice.attempts] == [0.0, *RETRY_SCHEDULE[:3]]
    sent = [a.sent_at for a in notice.attempts]
    gaps = [later - earlier for earlier, later in pairwise(sent)]
    # the simulator really waited (at least) the scaled schedule between attempts
    scale = sim.config.time_scale
    assert all(g >= s * scale * 0.9 for g, s in zip(gaps, RETRY_SCHEDULE[:3], strict=True))
    assert all(r.verified for r in merchant.received)  # each retry is signed afresh


async def test_gives_up_after_the_fifteenth_retry(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator
) -> None:
    sim.config.time_scale = 0.00001  # the whole day of retries in under a second
    no = order_no()
    await create(wxpay, merchant, no)
    merchant.script = [500] * 40
    notice = await (await sim.pay(no)).wait()
    assert len(notice.attempts) == 16 and not notice.acknowledged
    assert notice.gave_up_copies == 1
    assert [a.after for a in notice.attempts[1:]] == list(RETRY_SCHEDULE)


async def test_unreachable_merchant_is_retried(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator
) -> None:
    sim.config.time_scale = 0.00001
    no = order_no()
    await create(wxpay, merchant, no, notify_url="http://127.0.0.1:9/closed")
    notice = await (await sim.pay(no)).wait()
    assert len(notice.attempts) == 16 and all(a.error for a in notice.attempts)


async def test_probe_with_bad_signature_first(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator
) -> None:
    no = order_no()
    await create(wxpay, merchant, no)
    notice = await (await sim.pay(no, probe=True)).wait()
    probe, real = notice.attempts
    assert probe.probe and probe.status == 401 and not probe.acknowledged
    assert notice.probe_refused is True
    assert real.acknowledged and not real.probe
    assert merchant.received[0].verified is None and merchant.received[1].verified


async def test_probe_accepted_by_a_careless_merchant_is_recorded(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator
) -> None:
    no = order_no()
    await create(wxpay, merchant, no)
    merchant.script = [200]  # answers 200 without checking
    notice = await (await sim.pay(no, probe=True)).wait()
    assert notice.probe_refused is False and notice.acknowledged


async def test_duplicate_concurrent_and_late_deliveries(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator
) -> None:
    no = order_no()
    await create(wxpay, merchant, no)
    merchant.slow = 0.2  # both copies are inside the merchant at the same time
    notice = await (await sim.pay(no, copies=2, concurrent=True)).wait()
    assert notice.acknowledged and {a.copy for a in notice.attempts} == {0, 1}
    ids = {r.verified["id"] for r in merchant.received}
    assert len(merchant.received) == 2 and ids == {notice.id}
    first_done = min(a.sent_at for a in notice.attempts) + 0.2
    assert max(a.sent_at for a in notice.attempts) < first_done  # sent before either answered

    merchant.slow, merchant.received = 0.0, []
    again = await sim.notify_payment(no, copies=2).wait()  # one after the other
    assert [a.copy for a in again.attempts] == [0, 1] and again.acknowledged

    late_no = order_no()
    await create(wxpay, merchant, late_no)
    late = await sim.pay(late_no, delay=0.2)
    await asyncio.sleep(0.05)
    assert late.attempts == []  # not yet sent
    await late.wait()
    assert late.acknowledged


@pytest.mark.parametrize(
    "body",
    [
        "null",
        "[]",
        "{not json",
        '{"appid": 1, "mchid": [], "amount": "x"}',
        '{"out_trade_no": ["a"], "out_refund_no": {"x": 1}, "amount": {"refund": true}}',
        '{"out_trade_no": ["a"], "out_refund_no": "R-123456", "amount": {"refund": 1, "total": 1}}',
        '{"description": "\\ud800", "amount": {"total": 1e400}}',
    ],
)
async def test_malformed_bodies_get_param_errors_never_500(
    sim: WeChatSimulator, settings: dict[str, str], body: str
) -> None:
    key = load_private_key(settings["WECHAT_MCH_PRIVATE_KEY"])
    for path in ("/v3/pay/transactions/jsapi", "/v3/refund/domestic/refunds"):
        auth = build_authorization(
            path, "POST", settings["WECHAT_MCHID"], settings["WECHAT_MCH_SERIAL"], key, data=body
        )
        answer = await asyncio.to_thread(
            requests.post,
            sim.base_url + path,
            data=body.encode("utf-8"),
            headers={"Authorization": auth, "Content-Type": "application/json"},
            timeout=5,
        )
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["code"] == "PARAM_ERROR"
    assert not sim.ledger.transactions and not sim.ledger.refunds


async def test_a_merchant_slower_than_wechat_waits_is_retried(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator
) -> None:
    sim.config.notify_timeout = 0.2
    no = order_no()
    await create(wxpay, merchant, no)
    merchant.delays = [1.0]  # the first answer comes after WeChat stopped waiting
    notice = await (await sim.pay(no)).wait()
    first, second = notice.attempts
    assert first.status is None and "Timeout" in (first.error or "") and not first.acknowledged
    assert second.acknowledged and notice.acknowledged
