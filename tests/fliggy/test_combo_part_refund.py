"""A combo's unused part refunded by staff, and Fliggy told (`hub.orders.parts`).

The seed's combo is ``adult`` (the main gate) + ``cable`` (the cable car). The visitor
went through the main gate and skipped the cable car: staff refund the cable car's part
— where the product allows it — its stock comes back, the ticket is used up, and Fliggy
receives one refund notice however often the request is repeated."""

from __future__ import annotations

from typing import Any

from sandbox.ota.fliggy import booking
from tests.fliggy.kit import rig
from tests.support import ADMIN, TOMORROW, put

COMBO = {
    "venue_id": "v1",
    "name": "Entry + cable car",
    "kind": "combo",
    "components": [{"product_id": "adult"}, {"product_id": "cable", "refund_amount": 4000}],
    "prices": [{"amount": 14000}],
}


async def _sold(client: Any, pool: str) -> int:
    resp = await client.get(f"/api/admin/inventory?pool={pool}&date={TOMORROW}", headers=ADMIN)
    return sum(c["sold"] for c in (await resp.json())["cells"])


async def test_an_unused_part_is_refunded_and_the_partner_told(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        await put(r.client, "/api/admin/products/combo", COMBO)  # parts not refundable yet
        created = await r.fliggy.call(
            "create", booking("C1", product="combo", day=TOMORROW, price=14000)
        )
        assert created.ok, created
        ticket = await r.redeem("C1", 0, "c-main")  # the main gate: the combo's first part
        assert ticket.parts is not None and ticket.parts["adult"].used == 1
        order_id = ticket.order_id
        url = f"/api/admin/orders/{order_id}/tickets/{ticket.id}/refund-parts"

        refused = await r.client.post(url, json={"parts": ["cable"]}, headers=ADMIN)
        assert refused.status == 409, await refused.text()
        assert "not refundable" in (await refused.json())["message"]

        await put(r.client, "/api/admin/products/combo", {**COMBO, "parts_refundable": True})
        assert await _sold(r.client, "cable") == 1
        used = await r.client.post(url, json={"parts": ["adult"]}, headers=ADMIN)
        assert (used.status, (await used.json())["code"]) == (409, "ALREADY_REDEEMED")
        unknown = await r.client.post(url, json={"parts": ["show"]}, headers=ADMIN)
        assert unknown.status == 400

        headers = {**ADMIN, "Idempotency-Key": "desk-1"}
        done = await r.client.post(url, json={"parts": ["cable"]}, headers=headers)
        body = await done.json()
        assert done.status == 200, body
        assert (body["refunded_parts"], body["refunded_amount"]) == (["cable"], 4000)
        again = await r.client.post(url, json={"parts": ["cable"]}, headers=headers)
        assert await again.json() == body  # the first answer, nothing refunded twice
        twice = await r.client.post(url, json={"parts": ["cable"]}, headers=ADMIN)
        assert twice.status == 409  # already refunded

        (t,) = body["order"]["tickets"]
        assert t["parts"]["cable"] == {"allowed": 1, "used": 0, "refunded": True}
        assert t["state"] == "used"  # nothing left to enter with
        assert body["order"]["state"] == "redeemed"
        assert await _sold(r.client, "cable") == 0  # the cable car's seat is back
        assert await _sold(r.client, "main") == 1

        await r.deliver_all()
        assert r.gateway.refund_status["C1"] == [1]  # told once: the refund is done
        assert r.gateway.duplicates == []


async def test_a_combo_with_no_part_used_refunds_as_a_whole_ticket(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        await put(r.client, "/api/admin/products/combo", {**COMBO, "parts_refundable": True})
        created = await r.fliggy.call(
            "create", booking("C2", product="combo", day=TOMORROW, price=14000)
        )
        assert created.ok, created
        order = await r._order("C2")  # the hub's order of Fliggy's C2
        order_id, ticket_id = order.id, order.tickets[0].id
        url = f"/api/admin/orders/{order_id}/tickets/{ticket_id}/refund-parts"
        done = await r.client.post(url, json={}, headers=ADMIN)
        body = await done.json()
        assert done.status == 200, body
        assert body["refunded_tickets"] == [ticket_id] and body["order"]["state"] == "refunded"
        assert await _sold(r.client, "cable") == 0 and await _sold(r.client, "main") == 0
