"""Meituan end to end through the sandbox Meituan client over HTTP, on SQLite and
PostgreSQL: create (hold) → pay (vouchers) → query → partial and full refunds → close,
each idempotent on Meituan's ids; the global encryption both ways."""

from __future__ import annotations

import asyncio
from typing import Any

from sandbox.ota.meituan import CLOSE, CREATE, PAY, QUERY, REFUND, MeituanRequest
from tests.channel_kit import stock
from tests.meituan.kit import order, rig, visitors


async def test_create_pay_query_refund_in_parts(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url, callbacks=False) as r:
        mt = r.meituan()
        created = await mt.call(CREATE, order("m1", quantity=3))
        assert created.ok, created
        assert created.body["orderId"] == "m1" and created.body["orderStatus"] == "held"
        assert created.body["partnerOrderId"] and created.body["vouchers"] == []
        assert await stock(r.client) == {"held": 3, "sold": 0}
        again = await mt.call(CREATE, order("m1", quantity=3))
        assert again.raw == created.raw  # the existing order, not a second one
        assert await stock(r.client) == {"held": 3, "sold": 0}

        paid = await mt.call(PAY, {"orderId": "m1"})
        assert paid.ok and paid.body["orderStatus"] == "confirmed", paid
        assert len(paid.body["vouchers"]) == 3 and all(
            v["voucherCode"] for v in paid.body["vouchers"]
        )
        assert await stock(r.client) == {"held": 0, "sold": 3}
        assert (await mt.call(PAY, {"orderId": "m1"})).raw == paid.raw

        q = await mt.call(QUERY, {"orderId": "m1"})
        assert q.ok and q.body["quantity"] == 3 and q.body["refundedQuantity"] == 0

        part = {"orderId": "m1", "refundId": "r-1", "refundQuantity": 2}
        refunded = await mt.call(REFUND, part)
        assert refunded.ok, refunded
        assert refunded.body["refundId"] == "r-1" and refunded.body["refundQuantity"] == 2
        assert refunded.body["refundedQuantity"] == 2
        assert await stock(r.client) == {"held": 0, "sold": 1}
        replay = await mt.call(REFUND, part)  # Meituan's retry: same tickets, same answer
        assert replay.raw == refunded.raw
        assert await stock(r.client) == {"held": 0, "sold": 1}

        rest = await mt.call(REFUND, {"orderId": "m1", "refundId": "r-2"})
        assert rest.ok and rest.body["refundQuantity"] == 1, rest
        assert rest.body["orderStatus"] == "refunded" and rest.body["refundedQuantity"] == 3
        assert await stock(r.client) == {"held": 0, "sold": 0}
        nothing = await mt.call(REFUND, {"orderId": "m1", "refundId": "r-3"})
        assert nothing.code == "699", nothing
        assert await r.orders() == 1


async def test_close_releases_a_hold_and_refuses_a_paid_order(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url, callbacks=False) as r:
        mt = r.meituan()
        assert (await mt.call(CREATE, order("c1", quantity=2))).ok
        assert (await mt.call(CREATE, order("c2", quantity=1))).ok
        assert await stock(r.client) == {"held": 3, "sold": 0}
        closed = await mt.call(CLOSE, {"orderId": "c1"})
        assert closed.ok and closed.body["orderStatus"] == "cancelled", closed
        assert await stock(r.client) == {"held": 1, "sold": 0}
        assert (await mt.call(CLOSE, {"orderId": "c1"})).ok  # already closed: still success
        assert (await mt.call(PAY, {"orderId": "c1"})).code == "506"  # closed, not payable
        assert (await mt.call(PAY, {"orderId": "c2"})).ok
        paid_close = await mt.call(CLOSE, {"orderId": "c2"})
        assert paid_close.code == "506", paid_close
        assert await stock(r.client) == {"held": 0, "sold": 1}
        unknown = await mt.call(CLOSE, {"orderId": "nope"})
        assert unknown.code == "505", unknown


async def test_refund_refusals_use_meituans_refund_codes(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url, callbacks=False) as r:
        mt = r.meituan()
        assert (await mt.call(CREATE, order("f1", quantity=2))).ok
        unpaid = await mt.call(REFUND, {"orderId": "f1", "refundId": "x"})
        assert unpaid.code == "699", unpaid
        assert (await mt.call(PAY, {"orderId": "f1"})).ok
        too_many = await mt.call(REFUND, {"orderId": "f1", "refundId": "y", "refundQuantity": 3})
        assert too_many.code == "699", too_many
        await r.redeem("f1", 0, "gate-scan-1")
        used = await mt.call(REFUND, {"orderId": "f1", "refundId": "z"})  # whole order
        assert used.code == "606", used
        both = await mt.call(REFUND, {"orderId": "f1", "refundId": "w", "refundQuantity": 2})
        assert both.code == "606", both
        assert await stock(r.client) == {"held": 0, "sold": 2}
        one = await mt.call(REFUND, {"orderId": "f1", "refundId": "v", "refundQuantity": 1})
        assert one.ok and one.body["refundQuantity"] == 1, one
        changed = await mt.call(REFUND, {"orderId": "f1", "refundId": "v", "refundQuantity": 2})
        assert changed.code == "507", changed  # same refundId, another request
        assert await stock(r.client) == {"held": 0, "sold": 1}
        q = await mt.call(QUERY, {"orderId": "f1"})
        assert (q.body["usedQuantity"], q.body["refundedQuantity"]) == (1, 1)


async def test_global_encryption_both_ways(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url, callbacks=False) as r:
        mt = r.meituan(encrypt=True)
        created = await mt.call(CREATE, order("e1", quantity=2))
        assert created.ok and created.encrypted, created  # the answer came back encrypted
        assert created.raw[:1] != b"{"
        paid = await mt.call(PAY, {"orderId": "e1"})
        assert paid.ok and paid.encrypted and len(paid.body["vouchers"]) == 2
        plain = await r.meituan().call(QUERY, {"orderId": "e1"})  # plain calls still work
        assert plain.ok and not plain.encrypted and plain.body["orderStatus"] == "confirmed"
        assert await stock(r.client) == {"held": 0, "sold": 2}


async def test_duplicated_pushes_take_stock_once(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url, callbacks=False) as r:
        mt = r.meituan()
        answers = await mt.duplicate(CREATE, order("d1", quantity=2), times=4)
        assert {a.code for a in answers} == {"200"}
        assert len({a.body["partnerOrderId"] for a in answers}) == 1
        paid = await mt.duplicate(PAY, {"orderId": "d1"}, times=3)
        assert {p.code for p in paid} == {"200"}
        refunds = await mt.duplicate(REFUND, {"orderId": "d1", "refundId": "dr"}, times=3)
        assert {x.code for x in refunds} == {"200"}, refunds
        assert await stock(r.client) == {"held": 0, "sold": 0}
        assert await r.orders() == 1


async def test_real_name_order_issues_one_voucher_per_visitor(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url, callbacks=False) as r:
        mt = r.meituan()
        body = order("rn1", "realname", 3, visitors=visitors(3))
        assert (await mt.call(CREATE, body)).ok
        paid = await mt.call(PAY, {"orderId": "rn1"})
        assert paid.ok and len(paid.body["vouchers"]) == 3, paid
        # the same ID on another Meituan order the same day: the per-ID limit
        again = await mt.call(CREATE, order("rn2", "realname", 1, visitors=visitors(1)))
        assert again.code == "508", again
        assert await r.orders() == 1


async def test_many_meituan_orders_at_once_never_oversell(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url, callbacks=False, capacity=6) as r:
        mt = r.meituan()
        answers = await asyncio.gather(*(mt.call(CREATE, order(f"burst-{i}")) for i in range(15)))
        codes = sorted(a.code for a in answers)
        assert codes.count("200") == 6 and codes.count("502") == 9, codes
        assert await stock(r.client) == {"held": 6, "sold": 0}


async def test_a_payment_after_the_hold_ran_out(aiohttp_client: Any, db_url: str) -> None:
    """Meituan took the visitor's money: an expired hold is revived while its stock is
    there (the late order), refused with 506 once others bought it (the gone order)."""
    async with rig(aiohttp_client, db_url, callbacks=False, capacity=3) as r:
        mt = r.meituan()
        assert (await mt.call(CREATE, order("late", quantity=1))).ok
        assert (await mt.call(CREATE, order("gone", quantity=2))).ok
        r.clock.advance(seconds=r.hub.settings.hold_ttl_seconds + 60)
        await r.hub.orders.lifecycle.expire_due(r.clock.now())
        assert await stock(r.client) == {"held": 0, "sold": 0}
        assert (await r.meituan().call(CREATE, order("other", quantity=2))).ok
        late = await r.meituan().call(PAY, {"orderId": "late"})
        assert late.ok and late.body["orderStatus"] == "confirmed", late
        gone = await r.meituan().call(PAY, {"orderId": "gone"})
        assert gone.code == "506", gone
        assert await stock(r.client) == {"held": 2, "sold": 1}


async def test_a_call_with_a_query_string_verifies(aiohttp_client: Any, db_url: str) -> None:
    """Meituan signs the URI with its query (as we sign our notices): such a call must
    verify, and the same signature under another query must not."""
    async with rig(aiohttp_client, db_url, callbacks=False) as r:
        mt = r.meituan()
        with_query = mt.build(CREATE, order("q-1"), query={"trace": "t 1", "v": "2"})
        assert "?" in with_query.path
        created = await mt.send(with_query)
        assert created.ok, created
        paid = await mt.call(PAY, {"orderId": "q-1"}, query={"source": "mtp"})
        assert paid.ok, paid
        moved = MeituanRequest(
            with_query.path.replace("t+1", "t+2"), with_query.data, with_query.headers
        )
        assert (await mt.send(moved)).code == "401"
