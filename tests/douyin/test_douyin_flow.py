"""Douyin end to end through the sandbox Douyin over HTTP, on SQLite and PostgreSQL:
can_buy → create_order → pay_notify → query, cancels, refunds, and the certificate
verify on redemption landing once at the sandbox OpenAPI."""

from __future__ import annotations

from typing import Any

from tests.douyin.kit import order, rig, stock


async def test_buy_pay_query(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        d = r.douyin()
        can = await d.call("can_buy", order("d1", count=2))
        assert can.ok and can.data["stock"] == 10, can
        assert await stock(r.client) == {"held": 0, "sold": 0}
        created = await d.call("create_order", order("d1", count=2))
        assert created.ok and created.data["out_order_id"], created
        assert await stock(r.client) == {"held": 2, "sold": 0}
        paid = await d.call(
            "pay_notify", {"order_id": "d1", "out_order_id": created.data["out_order_id"]}
        )
        assert paid.ok and paid.data["order_status"] == "confirmed", paid
        assert len(paid.data["codes"]) == 2
        assert await stock(r.client) == {"held": 0, "sold": 2}
        q = await d.call("query", {"order_ids": ["d1", "nope"]})
        assert q.ok and q.data["orders"][0]["order_status"] == "confirmed"
        assert q.data["orders"][1] == {"order_id": "nope", "exists": False}
