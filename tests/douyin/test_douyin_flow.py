"""Douyin end to end through the sandbox Douyin over HTTP, on SQLite and PostgreSQL:
can_buy → create_order → pay_notify → query, cancels, refunds, and the certificate
verify on redemption landing once at the sandbox OpenAPI."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.channel_kit import stock
from tests.douyin.kit import order, rig


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


async def test_create_retries_get_the_same_out_order_id(aiohttp_client: Any, db_url: str) -> None:
    """Douyin re-sends create_order (new timestamp, new signature, same body): one hold,
    one out_order_id; the legacy md5 ``sign`` is accepted the same way."""
    async with rig(aiohttp_client, db_url) as r:
        d = r.douyin()
        first = await d.call("create_order", order("d2", count=3))
        assert first.ok, first
        for _ in range(3):
            r.clock.advance(seconds=60)  # a minute apart, as Douyin retries
            again = await d.call("create_order", order("d2", count=3))
            assert again.ok and again.data["out_order_id"] == first.data["out_order_id"]
        legacy = await r.douyin(scheme="md5").call("create_order", order("d2", count=3))
        assert legacy.data["out_order_id"] == first.data["out_order_id"], legacy
        assert await stock(r.client) == {"held": 3, "sold": 0}
        assert await r.orders() == 1


async def test_create_answered_100_is_retried_by_douyin(aiohttp_client: Any, db_url: str) -> None:
    """A transient hub error is answered 100 and Douyin's next try succeeds."""
    async with rig(aiohttp_client, db_url) as r:
        d = r.douyin()
        spi = r.channel.spi
        assert spi is not None
        real = spi.ctx.orders.place
        calls = {"n": 0}

        async def flaky(*args: Any, **kw: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 1:
                raise ConnectionError("database restarting")
            return await real(*args, **kw)

        spi.ctx.orders.place = flaky  # type: ignore[method-assign]
        try:
            reply = await d.call_retrying("create_order", order("d3"))
        finally:
            spi.ctx.orders.place = real  # type: ignore[method-assign]
        assert reply.ok and calls["n"] == 2, reply
        assert await stock(r.client) == {"held": 1, "sold": 0}


async def test_cancel_notify_before_and_after_pay(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        d = r.douyin()
        assert (await d.call("create_order", order("c1", count=2))).ok
        gone = await d.call("cancel_notify", {"order_id": "c1", "cancel_type": 1})
        assert gone.ok and gone.data["order_status"] == "cancelled", gone
        assert await stock(r.client) == {"held": 0, "sold": 0}
        again = await d.call("cancel_notify", {"order_id": "c1", "cancel_type": 1})
        assert again.ok
        # create failed on Douyin's side before it ever reached us: nothing to release
        never = await d.call("cancel_notify", {"order_id": "c-never", "cancel_type": 3})
        assert never.ok, never
        assert (await d.call("create_order", order("c2", count=2))).ok
        assert (await d.call("pay_notify", {"order_id": "c2"})).ok
        early = await d.call("cancel_notify", {"order_id": "c2", "cancel_type": 1})
        assert early.code == 999999, early  # paid: type 1 is wrong
        paid_back = await d.call("cancel_notify", {"order_id": "c2", "cancel_type": 2})
        assert paid_back.ok and paid_back.data["order_status"] == "refunded", paid_back
        assert await stock(r.client) == {"held": 0, "sold": 0}
        bad = await d.call("cancel_notify", {"order_id": "c2", "cancel_type": 7})
        assert bad.code == 999999


async def test_refund_audit_approves_by_the_rules_and_result(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        d = r.douyin()
        assert (await d.call("create_order", order("r1", count=3))).ok
        assert (await d.call("pay_notify", {"order_id": "r1"})).ok
        await r.redeem("r1", 0, "red-1")  # one visitor already went in
        audit = {"order_id": "r1", "after_sale_id": "as-1", "count": 1}
        ok = await d.call("refund_audit", audit)
        assert ok.ok and ok.data["audit_result"] == 1, ok
        assert await stock(r.client) == {"held": 0, "sold": 2}
        assert (await d.call("refund_audit", audit)).data == ok.data  # Douyin's retry
        assert await stock(r.client) == {"held": 0, "sold": 2}
        changed = await d.call("refund_audit", {**audit, "count": 2})
        assert changed.code == 999999, changed
        too_many = await d.call(
            "refund_audit", {"order_id": "r1", "after_sale_id": "as-2", "count": 3}
        )
        assert too_many.ok and too_many.data["audit_result"] == 2, too_many
        q = await d.call("query", {"order_ids": ["r1"]})
        codes = q.data["orders"][0]["codes"]
        used = next(c["code"] for c in codes if c["status"] == "used")
        refuse_used = await d.call(
            "refund_audit", {"order_id": "r1", "after_sale_id": "as-3", "codes": [used]}
        )
        assert refuse_used.data["audit_result"] == 2, refuse_used
        result = await d.call(
            "refund_notify", {"order_id": "r1", "after_sale_id": "as-1", "status": 1}
        )
        assert result.ok and result.data["refunded_count"] == 1, result
        failed = await d.call(
            "refund_notify", {"order_id": "r1", "after_sale_id": "as-9", "status": 2}
        )
        assert failed.ok
        records = await r.hub.store_for("douyin").list("refund_failed")
        assert [doc["after_sale_id"] for _, doc in records] == ["as-9"]  # for an operator
        assert await stock(r.client) == {"held": 0, "sold": 2}


async def test_refund_rule_never_refuses(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url, extra={"DOUYIN_REFUND_RULE": "never"}) as r:
        d = r.douyin()
        assert (await d.call("create_order", order("n1"))).ok
        assert (await d.call("pay_notify", {"order_id": "n1"})).ok
        no = await d.call("refund_audit", {"order_id": "n1", "after_sale_id": "as-1"})
        assert no.ok and no.data["audit_result"] == 2 and no.data["reason"], no
        assert await stock(r.client) == {"held": 0, "sold": 1}


async def test_query_is_limited_to_100_ids(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        d = r.douyin()
        ids = [f"q{i}" for i in range(101)]
        over = await d.call("query", {"order_ids": ids})
        assert over.code == 999999, over
        fine = await d.call("query", {"order_ids": ids[:100]})
        assert fine.ok and len(fine.data["orders"]) == 100


async def test_refund_without_audit_and_a_slow_can_buy(aiohttp_client: Any, db_url: str) -> None:
    """A refund Douyin made on its own (no audit) takes the unused vouchers back; a
    can_buy the hub cannot answer inside Douyin's budget is 100 (retry), not a refusal."""
    async with rig(aiohttp_client, db_url) as r:
        d = r.douyin()
        assert (await d.call("create_order", order("a1", count=2))).ok
        assert (await d.call("pay_notify", {"order_id": "a1"})).ok
        done = await d.call("refund_notify", {"order_id": "a1", "after_sale_id": "x", "status": 1})
        assert done.ok and done.data["order_status"] == "refunded", done
        assert await stock(r.client) == {"held": 0, "sold": 0}
        spi = r.channel.spi
        assert spi is not None
        real = spi.ctx.orders.check

        async def stuck(*args: Any, **kw: Any) -> Any:
            await asyncio.sleep(5)  # cancelled by the budget long before
            return await real(*args, **kw)

        spi.ctx.orders.check = stuck  # type: ignore[method-assign]
        try:
            slow = await d.call("can_buy", order("a2"))
        finally:
            spi.ctx.orders.check = real  # type: ignore[method-assign]
        assert slow.code == 100, slow
