"""WeChat misbehaving: a lost notice (the order query finds the payment), WeChat Pay down
while ordering, a refund that fails first and lands once, a refund WeChat refuses."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from sqlalchemy import select

from hub.storage.tables import OutboxRow
from tests.wechat.kit import PRICE, SLOT, eventually, start


async def test_a_lost_notice_is_recovered_by_the_order_query(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    w = await start(aiohttp_client, db_url, stack, outbox_workers=0)
    mp = await w.visitor("o-paula")
    created = await mp.order("ck-paula-0001", "adult", w.day, SLOT, 1)
    out_trade = created.body["order"]["out_trade_no"]
    await w.pay(created, delay=3600)  # paid; the notice will not come in this test
    got = await mp.get(out_trade)
    assert got.order["state"] == "confirmed" and len(got.order["tickets"]) == 1
    assert await w.stock() == {"held": 0, "sold": 1}
    notice = await w.sim.notify_payment(out_trade).wait()  # when it does come: a replay
    assert notice.acknowledged
    assert len((await mp.get(out_trade)).order["tickets"]) == 1


async def test_wechat_pay_down_while_ordering_then_back(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    w = await start(aiohttp_client, db_url, stack, outbox_workers=0)
    mp = await w.visitor("o-quinn")
    w.sim.faults.add("/v3/pay/transactions/jsapi", "http_5xx", times=1)
    down = await mp.order("ck-quinn-0001", "adult", w.day, SLOT, 2)
    assert (down.status, down.code) == (503, "PAYMENT_UNAVAILABLE")
    w.sim.faults.add("/v3/pay/transactions/jsapi", "system_error", times=1)
    busy = await mp.order("ck-quinn-0001", "adult", w.day, SLOT, 2)
    assert (busy.status, busy.code) == (503, "PAYMENT_UNAVAILABLE")
    assert await w.stock() == {"held": 2, "sold": 0}  # the hold stands meanwhile
    back = await mp.order("ck-quinn-0001", "adult", w.day, SLOT, 2)
    assert back.status == 201 and back.body["payment"]["paySign"]
    assert await w.stock() == {"held": 2, "sold": 0}  # held once, whatever the retries
    assert (await (await w.pay(back)).wait()).acknowledged


async def test_refund_fails_first_then_lands_once_and_a_refused_one_is_recorded(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    # WeChat will not answer the first refund within the attempt's timeout: a short one
    # (the channel's own is 10 s), and WeChat twice as late, so it really is a timeout.
    w = await start(aiohttp_client, db_url, stack, attempt_seconds=1.0)
    mp = await w.visitor("o-rosa")
    created = await mp.order("ck-rosa-00001", "adult", w.day, SLOT, 2)
    out_trade = created.body["order"]["out_trade_no"]
    await (await w.pay(created)).wait()
    tickets = [t["id"] for t in (await mp.get(out_trade)).order["tickets"]]
    w.sim.faults.add("/v3/refund/domestic/refunds", "timeout", times=1, seconds=2.0)
    assert (await mp.refund(out_trade, "rq-a", tickets[:1])).ok

    # the first answer was lost; the retry is replayed
    (refund,) = await w.settled_refunds(out_trade, 1)
    assert refund.refund == PRICE
    t = OutboxRow.__table__.c
    async with w.hub.engine.connect() as conn:
        errors = (await conn.execute(select(t.last_error).where(t.kind == "refund"))).scalars()
        assert "timed out" in str(list(errors))

    w.sim.faults.add("/v3/refund/domestic/refunds", "refund_refused", times=1)
    assert (await mp.refund(out_trade, "rq-b", tickets[1:])).ok

    async def abnormal() -> bool:
        rows = await w.hub.store_for("wechat").list("refund", prefix=f"{out_trade}/")
        return sorted(d["status"] for _, d in rows) == ["ABNORMAL", "SUCCESS"]

    await eventually(abnormal)
