"""A Meituan combo's unused part refunded by staff (`hub.orders.parts`): Meituan gets
one refund notice for it over the wire — signed, on the notice path the spec names — and
the stock Meituan is told follows (the cable car's seat is back on sale).

The seed's combo is ``adult`` (the main gate) + ``cable`` (the cable car); the visitor
went through the main gate and skipped the cable car."""

from __future__ import annotations

from typing import Any

from sandbox.ota.meituan import CREATE, PAY
from tests.meituan.kit import order, rig
from tests.stockpush.kit import push_all, stock_worker
from tests.support import ADMIN, TOMORROW, put
from tests.support import PART_REFUNDABLE_COMBO as COMBO


async def test_a_part_refund_is_told_to_meituan_once(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        await put(r.client, "/api/admin/products/combo", COMBO)
        mt = r.meituan()
        body = order("P1", deal="combo", unitPrice="140.00")
        assert (await mt.call(CREATE, body)).ok
        assert (await mt.call(PAY, {"orderId": "P1"})).ok
        ticket = await r.redeem("P1", 0, "p-main")  # the main gate
        pusher = stock_worker(r)
        await push_all(r, pusher)  # Meituan knows the stock before the refund
        before = len(r.receiver.accepted)
        url = f"/api/admin/orders/{ticket.order_id}/tickets/{ticket.id}/refund-parts"
        headers = {**ADMIN, "Idempotency-Key": "desk-p1"}
        for _ in range(2):  # the desk's retry: one refund, one notice
            done = await r.client.post(url, json={"parts": ["cable"]}, headers=headers)
            assert done.status == 200, await done.text()
        await r.deliver_all()

        notices = [n for n in r.receiver.of("refund") if n.body.get("orderId") == "P1"]
        assert len(notices) == 1, notices
        (notice,) = notices
        assert notice.path == "/rhone/mtp/api/order/refund/notice"
        told = notice.body
        assert told["partnerOrderId"] == ticket.order_id
        assert told["refundQuantity"] == 0  # the ticket stays; only its part goes
        assert told["refundParts"] == ["cable"] and told["refundPrice"] == 40.0
        assert told["refundId"].startswith("S") and "cable" in told["refundId"]
        assert r.receiver.duplicates == []

        # the stock push follows: the cable car's seat is back for what Meituan lists
        await push_all(r, pusher)
        later = r.receiver.accepted[before:]
        prices = [n for n in later if n.path.endswith("/level/price/notice/v2")]
        assert {n.body["partnerDealId"] for n in prices} >= {"cable", "combo"}
        cable = await r.client.get(
            f"/api/admin/inventory?pool=cable&date={TOMORROW}", headers=ADMIN
        )
        assert sum(c["sold"] for c in (await cable.json())["cells"]) == 0


async def test_a_combo_held_then_paid_keeps_its_parts(aiohttp_client: Any, db_url: str) -> None:
    """Meituan holds at create and issues at pay: the tickets issued at pay carry the
    combo's parts (the hold's plan keeps them), so each attraction checks its own."""
    async with rig(aiohttp_client, db_url) as r:
        await put(r.client, "/api/admin/products/combo", COMBO)
        mt = r.meituan()
        assert (await mt.call(CREATE, order("P2", deal="combo", unitPrice="140.00"))).ok
        assert (await mt.call(PAY, {"orderId": "P2"})).ok
        (ticket,) = (await r._order("P2")).tickets
        assert ticket.parts is not None
        assert {k: (p.allowed, p.used) for k, p in ticket.parts.items()} == {
            "adult": (1, 0),
            "cable": (1, 0),
        }
