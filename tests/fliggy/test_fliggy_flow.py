"""Fliggy's calls end to end over HTTP, signed as Fliggy signs them (sandbox client):
a paid order, duplicated pushes and retries, query, cancel and refund, real-name
travellers; every TOP sign method, the caller's choice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sandbox.ota.fliggy import FliggyClient, booking, travellers
from tests.channel_kit import stock
from tests.fliggy.kit import rig
from tests.support import TOMORROW, id_number


async def test_a_paid_order_is_issued_once_however_often_fliggy_pushes_it(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        body = booking("F1", day=TOMORROW, quantity=3)
        first, second = await r.fliggy.duplicate("create", body)
        assert first.ok and second.ok, (first, second)
        assert first.data == second.data
        retried = await r.fliggy.call_retrying("create", body)  # fresh timestamp and sign
        assert retried.data == first.data
        data = first.data
        assert data["status"] == "ISSUED" and data["quantity"] == 3
        assert len(data["vouchers"]) == 3 and all(v["confirm_code"] for v in data["vouchers"])
        assert await r.orders() == 1
        assert await stock(r.client) == {"held": 0, "sold": 3}
        q = await r.fliggy.call("query", {"order_id": "F1"})
        assert q.ok and q.data["supplier_order_id"] == data["supplier_order_id"]
        assert q.data["used_quantity"] == 0


async def test_real_name_travellers(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url) as r:
        people = travellers([id_number(seq=1), id_number(seq=2)])
        body = booking("F2", product="realname", day=TOMORROW, quantity=2, travellers=people)
        reply = await r.fliggy.call("create", body)
        assert reply.ok, reply
        # the per-ID daily limit: the same traveller on another Fliggy order is refused
        again = booking("F3", product="realname", day=TOMORROW, travellers=people[:1])
        assert (await r.fliggy.call("create", again)).code == "2008"
        assert await stock(r.client) == {"held": 0, "sold": 2}


async def test_cancel_of_a_paid_order_refunds_it_and_tells_top(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        assert (await r.fliggy.call("create", booking("F4", day=TOMORROW, quantity=2))).ok
        cancelled = await r.fliggy.call("cancel", {"order_id": "F4"})
        assert cancelled.ok and cancelled.data["status"] == "REFUNDED", cancelled
        assert await stock(r.client) == {"held": 0, "sold": 0}
        again = await r.fliggy.call("cancel", {"order_id": "F4"})
        assert again.raw == cancelled.raw
        await r.deliver_all()
        calls = r.gateway.of("taobao.travel.ticket.order.refund")
        assert [c.params["refund_status"] for c in calls] == ["1"]
        assert calls[0].order_id == "F4" and r.gateway.duplicates == []


async def test_the_callers_sign_method_is_honoured(aiohttp_client: Any, db_url: str) -> None:
    """TOP lets the caller choose ``sign_method`` (md5, hmac, hmac-sha256): each verifies
    by its own formula whatever the spec's default, a signature made with another method
    than the one named does not, and an unknown method is refused as a bad signature."""
    async with rig(aiohttp_client, db_url) as r:  # the spec's default: md5
        for i, method in enumerate(("md5", "hmac", "hmac-sha256")):
            caller = FliggyClient(r.client, now=r.clock.now, sign_method=method)
            created = await caller.call("create", booking(f"S{i}", day=TOMORROW))
            assert created.ok, (method, created)
        signed = r.fliggy.build("query", {"order_id": "S0"})  # md5
        claims_hmac = tuple((k, "hmac" if k == "sign_method" else v) for k, v in signed.query)
        lying = await r.fliggy.send(type(signed)(signed.operation, claims_hmac, signed.body))
        assert lying.code == "1002", lying
        odd = FliggyClient(r.client, now=r.clock.now, sign_method="sha1")
        refused = await odd.call("query", {"order_id": "S0"})
        assert refused.code == "1002" and "sign_method" in refused.message, refused
        assert await r.orders() == 3


@pytest.mark.parametrize("method", ["hmac", "hmac-sha256"])
async def test_our_top_calls_use_the_spec_s_sign_method(
    aiohttp_client: Any, db_url: str, method: str
) -> None:
    async with rig(aiohttp_client, db_url, sign_method=method) as r:
        assert (await r.fliggy.call("create", booking("H1", day=TOMORROW))).ok
        assert (await r.fliggy.call("refund", {"order_id": "H1"})).ok
        await r.deliver_all()
        assert r.gateway.sign_methods == {method: 1}
        assert len(r.gateway.of("taobao.travel.ticket.order.refund")) == 1


async def test_concurrent_orders_never_oversell(aiohttp_client: Any, db_url: str) -> None:
    async with rig(aiohttp_client, db_url, capacity=4) as r:
        replies = await asyncio.gather(
            *(r.fliggy.call("create", booking(f"C{i}", day=TOMORROW)) for i in range(8))
        )
        codes = sorted(x.code for x in replies)
        assert codes == ["0"] * 4 + ["2002"] * 4, codes
        assert await stock(r.client) == {"held": 0, "sold": 4}


async def test_partial_refunds_by_quantity_keep_their_first_choice(
    aiohttp_client: Any, db_url: str
) -> None:
    async with rig(aiohttp_client, db_url) as r:
        assert (await r.fliggy.call("create", booking("P1", day=TOMORROW, quantity=4))).ok
        await r.redeem("P1", 0, "p-used")  # the first traveller went in
        ask = {"order_id": "P1", "refund_id": "RF-1", "quantity": 2}
        first, dup = await r.fliggy.duplicate("refund", ask)
        assert first.ok and dup.raw == first.raw, (first, dup)
        assert first.data["refunded_quantity"] == 2 and first.data["used_quantity"] == 1
        retried = await r.fliggy.call_retrying("refund", ask)
        assert retried.raw == first.raw
        assert await stock(r.client) == {"held": 0, "sold": 2}
        too_many = await r.fliggy.call("refund", {**ask, "refund_id": "RF-2", "quantity": 2})
        assert too_many.code == "3003", too_many  # one unused unit is left, one was used
        beyond = await r.fliggy.call("refund", {**ask, "refund_id": "RF-5", "quantity": 9})
        assert beyond.code == "3002", beyond  # more than the order has left
        changed = await r.fliggy.call("refund", {**ask, "quantity": 1})  # RF-1 again
        assert changed.code == "2009", changed
        bad = await r.fliggy.call("refund", {**ask, "refund_id": "RF-3", "quantity": "0"})
        assert bad.code == "1004", bad
        last = await r.fliggy.call("refund", {**ask, "refund_id": "RF-4", "quantity": 1})
        assert last.ok and last.data["refunded_quantity"] == 3
        await r.deliver_all()
        status = r.gateway.refund_status["P1"]
        assert sorted(status) == [1, 1, 2, 2], status  # RF-1, RF-4 done; RF-2, RF-5 refused
        assert r.gateway.duplicates == []
