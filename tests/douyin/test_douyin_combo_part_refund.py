"""A Douyin combo's unused part refunded by staff (`hub.orders.parts`): Douyin's
OpenAPI (the sandbox: access token checked, idempotent on ``out_refund_id``) is told
once, through a lost answer, on the path the spec names (*unconfirmed*).

The seed's combo is ``adult`` (the main gate) + ``cable`` (the cable car); the visitor
went through the main gate and skipped the cable car."""

from __future__ import annotations

from typing import Any

from tests.douyin.kit import order, rig
from tests.support import ADMIN, put
from tests.support import PART_REFUNDABLE_COMBO as COMBO


async def test_a_part_refund_is_told_to_douyin_once(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        await put(r.client, "/api/admin/products/combo", COMBO)
        d = r.douyin()
        assert (await d.call("create_order", order("d1", sku="combo", unit_price=14000))).ok
        paid = await d.call("pay_notify", {"order_id": "d1"})
        assert paid.ok, paid
        for c in paid.data["codes"]:
            r.douyin_api.issue(c["code"])
        ticket = await r.redeem("d1", 0, "d-main")  # the main gate
        assert ticket.parts is not None and ticket.parts["adult"].used == 1
        await r.deliver_all()  # the main gate's certificate verify

        url = f"/api/admin/orders/{ticket.order_id}/tickets/{ticket.id}/refund-parts"
        headers = {**ADMIN, "Idempotency-Key": "desk-d1"}
        for _ in range(2):  # the desk's retry: one refund, one call
            done = await r.client.post(url, json={"parts": ["cable"]}, headers=headers)
            assert done.status == 200, await done.text()
        r.douyin_api.fail("part_refund", "lost")  # done by Douyin, the answer lost
        await r.deliver_all()

        api = r.douyin_api
        (told,) = api.part_refunds.values()
        assert (told["order_id"], told["out_order_id"]) == ("d1", ticket.order_id)
        assert (told["code"], told["parts"], told["refund_amount"]) == (
            ticket.credential,
            ["cable"],
            4000,
        )
        assert api.part_refund_repeats == 1  # the retry after the lost answer, deduped
        assert await r.rows("done") == await r.rows()
