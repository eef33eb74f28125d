"""v3 refunds through wechatpayv3: idempotent, bounded by the paid amount, notified."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from wechatpayv3 import WeChatPay as WeChatPayV3

from sandbox.wechat import WeChatSimulator
from tests.sandbox_wechat.conftest import Merchant
from tests.sandbox_wechat.test_pay_v3 import create, order_no


async def paid_order(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator, total: int = 10000
) -> str:
    no = order_no()
    await create(wxpay, merchant, no, total=total)
    await (await sim.pay(no)).wait()
    merchant.received.clear()
    return no


async def refund(
    wxpay: WeChatPayV3, merchant: Merchant, no: str, out_refund_no: str, amount: int, total: int
) -> tuple[int, dict[str, Any]]:
    code, text = await asyncio.to_thread(
        wxpay.refund,
        out_refund_no=out_refund_no,
        amount={"refund": amount, "total": total, "currency": "CNY"},
        out_trade_no=no,
        reason="visitor cancelled",
        notify_url=merchant.url("/notify/v3"),
    )
    return code, json.loads(text)


async def settled(sim: WeChatSimulator, out_refund_no: str) -> None:
    for _ in range(200):
        notices = [n for n in sim.notifications if n.out_refund_no == out_refund_no]
        if notices:
            await notices[0].wait()
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"refund {out_refund_no} never notified")


async def test_refund_settles_and_notifies(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator
) -> None:
    no = await paid_order(wxpay, merchant, sim)
    code, body = await refund(wxpay, merchant, no, "R-" + no, 4000, 10000)
    assert code == 200 and body["status"] == "PROCESSING" and body["amount"]["refund"] == 4000
    await settled(sim, "R-" + no)
    [got] = merchant.received
    assert got.verified["event_type"] == "REFUND.SUCCESS"
    resource = got.verified["resource"]
    assert resource["out_refund_no"] == "R-" + no and resource["refund_status"] == "SUCCESS"
    assert resource["amount"] == {
        "total": 10000,
        "refund": 4000,
        "payer_total": 10000,
        "payer_refund": 4000,
    }
    code, text = await asyncio.to_thread(wxpay.query_refund, out_refund_no="R-" + no)
    assert code == 200 and json.loads(text)["status"] == "SUCCESS"
    _, text = await asyncio.to_thread(wxpay.query, out_trade_no=no)
    assert json.loads(text)["trade_state"] == "REFUND"


async def test_refund_is_idempotent_and_bounded(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator
) -> None:
    no = await paid_order(wxpay, merchant, sim)
    _, first = await refund(wxpay, merchant, no, "R1-" + no, 6000, 10000)
    code, again = await refund(wxpay, merchant, no, "R1-" + no, 6000, 10000)
    assert code == 200 and again["refund_id"] == first["refund_id"]
    code, changed = await refund(wxpay, merchant, no, "R1-" + no, 5000, 10000)
    assert code == 400 and changed["code"] == "INVALID_REQUEST"
    code, too_much = await refund(wxpay, merchant, no, "R2-" + no, 4001, 10000)
    assert code == 400 and too_much["code"] == "INVALID_REQUEST"
    code, rest = await refund(wxpay, merchant, no, "R3-" + no, 4000, 10000)
    assert code == 200 and rest["amount"]["refund"] == 4000
    code, wrong_total = await refund(wxpay, merchant, no, "R4-" + no, 1, 9999)
    assert code == 400 and wrong_total["code"] == "INVALID_REQUEST"
    assert sorted(r.refund for r in sim.ledger.refunds.values()) == [4000, 6000]


async def test_refund_of_unknown_or_unpaid_order(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator
) -> None:
    code, body = await refund(wxpay, merchant, "T-no-such-order", "R-none-1", 1, 1)
    assert code == 404 and body["code"] == "RESOURCE_NOT_EXISTS"
    unpaid = order_no()
    await create(wxpay, merchant, unpaid, total=500)
    code, body = await refund(wxpay, merchant, unpaid, "R-" + unpaid, 500, 500)
    assert code == 400 and body["code"] == "INVALID_REQUEST"
    code, text = await asyncio.to_thread(wxpay.query_refund, out_refund_no="R-none-1")
    assert code == 404 and json.loads(text)["code"] == "RESOURCE_NOT_EXISTS"


async def test_refused_refund_is_abnormal(
    wxpay: WeChatPayV3, merchant: Merchant, sim: WeChatSimulator
) -> None:
    no = await paid_order(wxpay, merchant, sim)
    sim.faults.add("/v3/refund/domestic/refunds", "refund_refused")
    code, body = await refund(wxpay, merchant, no, "R-" + no, 10000, 10000)
    assert code == 200 and body["status"] == "PROCESSING"
    await settled(sim, "R-" + no)
    [got] = merchant.received
    assert got.verified["event_type"] == "REFUND.ABNORMAL"
    assert got.verified["resource"]["refund_status"] == "ABNORMAL"
    _, text = await asyncio.to_thread(wxpay.query_refund, out_refund_no="R-" + no)
    assert json.loads(text)["status"] == "ABNORMAL"
