"""Holds that run out: WeChat's order is closed; a payment that lands afterwards takes
the stock again if it is there, and is refunded automatically (with a message) if not —
against the simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import pytest

from tests.wechat.kit import PRICE, SLOT, World, eventually, start

LATER = 3600.0  # the first (original) notice is held back this long: a test sends its own


async def expire_holds(w: World) -> None:
    clock = w.hub.clock
    assert await w.hub.orders.lifecycle.expire_due(clock.now() + timedelta(hours=1)) >= 1
    w.hub.outbox.notify()


async def test_close_at_expiry_and_on_cancel(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    w = await start(aiohttp_client, db_url, stack)
    mp = await w.visitor("o-frank")
    expiring = await mp.order("ck-frank-0001", "adult", w.day, SLOT, 2)
    assert await w.stock() == {"held": 2, "sold": 0}
    await expire_holds(w)
    assert await w.stock() == {"held": 0, "sold": 0}
    cancelling = await mp.order("ck-frank-0002", "adult", w.day, SLOT, 1)
    assert await w.stock() == {"held": 1, "sold": 0}
    cancelled = await mp.cancel(cancelling.body["order"]["out_trade_no"])
    assert cancelled.ok and cancelled.order["state"] == "cancelled"
    assert await w.stock() == {"held": 0, "sold": 0}
    trades = [r.body["order"]["out_trade_no"] for r in (expiring, cancelling)]

    async def closed() -> bool:
        return all(w.sim.transaction(t).state == "CLOSED" for t in trades)

    await eventually(closed)
    with pytest.raises(ValueError, match="CLOSED"):
        await w.pay(expiring)  # WeChat no longer takes money for it
    assert (await mp.cancel(trades[1])).ok  # a retried cancel answers the same


async def test_late_payment_with_stock_still_there_confirms(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    w = await start(aiohttp_client, db_url, stack, outbox_workers=0)
    mp = await w.visitor("o-gina")
    created = await mp.order("ck-gina-00001", "adult", w.day, SLOT, 2)
    out_trade = created.body["order"]["out_trade_no"]
    await w.pay(created, delay=LATER)  # paid now; WeChat's notice is late
    await expire_holds(w)
    assert (await mp.get(out_trade)).order["state"] == "expired"
    assert await w.stock() == {"held": 0, "sold": 0}
    notice = await w.sim.notify_payment(out_trade).wait()
    assert notice.acknowledged
    got = await mp.get(out_trade)
    assert got.order["state"] == "confirmed" and len(got.order["tickets"]) == 2
    assert await w.stock() == {"held": 0, "sold": 2}
    assert not [k for k, d, _ in await w.outbox() if k == "refund"]


async def test_late_payment_with_stock_gone_is_refunded_and_told(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    w = await start(aiohttp_client, db_url, stack, capacity=2)
    alice, bob = await w.visitor("o-hana"), await w.visitor("o-ivan")
    late = await alice.order("ck-hana-00001", "adult", w.day, SLOT, 2)
    out_trade = late.body["order"]["out_trade_no"]
    await w.pay(late, delay=LATER)
    await expire_holds(w)
    sold = await bob.order("ck-ivan-00001", "adult", w.day, SLOT, 2)
    assert sold.status == 201
    await (await w.pay(sold)).wait()
    assert await w.stock() == {"held": 0, "sold": 2}

    notices = [w.sim.notify_payment(out_trade) for _ in range(3)]  # and duplicates
    for n in notices:
        assert (await n.wait()).acknowledged  # answered 204: the refund is WeChat's answer
    assert (await alice.get(out_trade)).order["state"] == "expired"
    assert await w.stock() == {"held": 0, "sold": 2}

    (refund,) = await w.settled_refunds(out_trade, 1)
    assert refund.refund == refund.total == 2 * PRICE

    async def told() -> bool:
        return any(
            m.touser == "o-hana" and m.template_id == "refund-notice"
            for m in w.sim.subscribe_messages
        )

    await eventually(told)
    remedies = [d for k, d, _ in await w.outbox() if k == "refund" or "late_refund" in d]
    assert len(remedies) == 2  # one refund, one message, whatever the duplicates
