"""A payment that lands after its hold expired (`OrderService.confirm_paid`): the order is
confirmed if its stock can be taken again, otherwise refused with the remedy queued in the
same transaction — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from hub.clock import FixedClock
from hub.domain import OrderLine, OrderRequest, Visitor
from hub.sdk import PartnerCall
from hub.storage.tables import IdDayCountRow, OutboxRow
from tests.orders.test_order_flow import cells
from tests.support import T0, TOMORROW, hub_client, hub_of, id_number, order, seed


async def expired_hold(aiohttp_client: Any, db_url: str, capacity: int = 2) -> tuple[Any, str]:
    clock = FixedClock(T0)
    client = await hub_client(aiohttp_client, db_url, clock=clock, hold_ttl_seconds=60)
    await seed(client, capacity=capacity)
    status, body = await order(client, "hold", quantity=2)
    assert status == 201, body
    clock.advance(seconds=61)
    assert await hub_of(client).orders.lifecycle.expire_due(clock.now()) == 1
    assert (await cells(client))["09:00-11:00"]["held"] == 0
    return client, body["order"]["id"]


def refund_call(order_id: str) -> PartnerCall:
    return PartnerCall("refundtest", "refund", f"refund:{order_id}", {"o": order_id}, order_id)


async def queued(client: Any) -> list[str]:
    async with hub_of(client).engine.connect() as conn:
        rows = (await conn.execute(select(OutboxRow.__table__.c.dedupe_key))).scalars().all()
    return sorted(rows)


async def test_late_payment_retakes_stock_still_there(aiohttp_client: Any, db_url: str) -> None:
    client, oid = await expired_hold(aiohttp_client, db_url)
    orders = hub_of(client).orders
    plain = await orders.confirm(oid)
    assert plain.code == "HOLD_EXPIRED"  # an ordinary confirm still refuses
    out = await orders.confirm_paid(oid, key="pay:1", if_gone=[refund_call(oid)], txn="T1")
    assert out.ok, out.body
    assert out.body["order"]["state"] == "confirmed" and len(out.body["order"]["tickets"]) == 2
    c = (await cells(client))["09:00-11:00"]
    assert (c["held"], c["sold"]) == (0, 2)
    again = await orders.confirm_paid(oid, key="pay:1", if_gone=[refund_call(oid)], txn="T1")
    assert again.replay and again.body == out.body
    assert (await cells(client))["09:00-11:00"]["sold"] == 2
    assert await queued(client) == []


async def test_late_payment_with_stock_gone_queues_the_remedy_once(
    aiohttp_client: Any, db_url: str
) -> None:
    client, oid = await expired_hold(aiohttp_client, db_url)
    status, _ = await order(client, "other", quantity=1, confirm=True)
    assert status == 201  # one of the two places went to someone else
    orders = hub_of(client).orders
    results = await asyncio.gather(
        *(
            orders.confirm_paid(oid, key="pay:2", if_gone=[refund_call(oid)], txn="T2")
            for _ in range(4)
        )
    )
    assert {r.code for r in results} == {"HOLD_EXPIRED"}
    assert sum(not r.replay for r in results) == 1
    assert results[0].body["details"] == {"stock_gone": True}
    c = (await cells(client))["09:00-11:00"]
    assert (c["held"], c["sold"]) == (0, 1)  # the partial take was undone
    assert await queued(client) == [f"refund:{oid}"]
    assert (await orders.get(oid)).state.value == "expired"  # type: ignore[union-attr]


async def test_late_payment_retakes_per_id_claims_within_their_limit(
    aiohttp_client: Any, db_url: str
) -> None:
    clock = FixedClock(T0)
    client = await hub_client(aiohttp_client, db_url, clock=clock, hold_ttl_seconds=60)
    await seed(client)
    orders = hub_of(client).orders
    person = Visitor(name="Wang Fang", id_number=id_number("19850101", 42))

    def request(pid: str) -> OrderRequest:
        return OrderRequest(
            channel="test",
            partner_order_id=pid,
            lines=(OrderLine(product_id="realname", quantity=1),),
            visitors=(person,),
            travel_date=TOMORROW,
            slot="09:00-11:00",
        )

    first = await orders.place(request("a"))
    assert first.ok, first.body
    clock.advance(seconds=61)
    assert await orders.lifecycle.expire_due(clock.now()) == 1
    second = await orders.place(request("b"))  # the ID's daily place was free again
    assert second.ok, second.body
    late = await orders.confirm_paid(first.order_id or "", key="pay:3", if_gone=[], txn="T3")
    assert late.code == "HOLD_EXPIRED"  # stock is there, the ID's limit is not
    async with hub_of(client).engine.connect() as conn:
        counts = (await conn.execute(select(IdDayCountRow.__table__.c.count))).scalars().all()
    assert list(counts) == [1]
    assert (await orders.cancel(second.order_id or "")).ok
    revived = await orders.confirm_paid(first.order_id or "", key="pay:4", if_gone=[], txn="T3")
    assert revived.ok, revived.body
    async with hub_of(client).engine.connect() as conn:
        counts = (await conn.execute(select(IdDayCountRow.__table__.c.count))).scalars().all()
    assert list(counts) == [1]
