"""A partner added with a spec file and nothing else: `examples/channel_specs/tripnest.toml`
served by the hub's generic `SpecChannel`, driven by TripNest's own client, and held to
the same conformance kit as every channel."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.clock import FixedClock
from hub.outbox import Breakers, OutboxWorker
from hub.storage.tables import OrderRow
from hub.testing.conformance import FAST_CALLBACKS, CallbackReceiver, ConformanceSuite
from sandbox.ota.tripnest import SECRETS, SPECS_DIR, TripNestClient, TripNestProbe, booking
from tests.support import T0, TOMORROW, hub_client, hub_of, id_number, seed


class TestTripNestConformance(ConformanceSuite):
    probe = TripNestProbe()


async def call(client: TestClient, tn: TripNestClient, op: str, body: Any) -> Any:
    req = tn.request(op, body)
    resp = await client.post(req.path, data=req.body, headers=dict(req.headers))
    assert resp.status == 200
    return tn.read(await resp.read())


async def test_a_spec_file_is_a_whole_channel(aiohttp_client: Any, db_url: str) -> None:
    tn = TripNestClient(now=lambda: T0)
    probe = TripNestProbe()
    receiver = CallbackReceiver(identify=probe.callback_identity, answer=probe.callback_answer)
    url = await receiver.start()
    try:
        client = await hub_client(
            aiohttp_client,
            db_url,
            clock=FixedClock(T0),
            channel_specs_dirs=[SPECS_DIR],
            channel_settings={"tripnest": {**SECRETS, "TRIPNEST_NOTIFY_URL": url}},
        )
        await seed(client, capacity=5, slots=("",))
        day = TOMORROW

        checked = await call(client, tn, "check", booking("TN1", product="adult", day=day, count=2))
        assert checked.code == "0" and checked.body == {"orderNo": "TN1", "stock": 5}
        booked = await call(client, tn, "book", booking("TN1", product="adult", day=day, count=2))
        assert booked.code == "0" and booked.body["status"] == "BOOKED", booked
        again = await call(client, tn, "book", booking("TN1", product="adult", day=day, count=2))
        assert again == booked
        changed = await call(client, tn, "book", booking("TN1", product="adult", day=day, count=3))
        assert changed.code == "2009"
        paid = await call(client, tn, "pay", {"orderNo": "TN1"})
        assert paid.body["status"] == "ISSUED" and len(paid.body["vouchers"]) == 2
        assert all(v["qr"].startswith("TH1.") for v in paid.body["vouchers"])
        queried = await call(client, tn, "query", {"orderNo": "TN1"})
        assert queried.body["usedCount"] == 0 and queried.body["supplierOrderNo"]

        hub = hub_of(client)
        worker = OutboxWorker(
            hub.engine,
            deliverer=hub.plugins.channels.find,
            policy_for=lambda partner: FAST_CALLBACKS,
            clock=hub.clock,
            worker_id="t",
            breakers=Breakers(hub.clock, failure_threshold=100),
        )
        for _ in range(50):
            if await worker.run_once() == 0 and receiver.acknowledged:
                break
            await asyncio.sleep(0.01)
        assert dict(receiver.acknowledged) == {"/notify/issued:TN1": 1}

        cancelled = await call(client, tn, "cancel", {"orderNo": "TN1"})
        assert cancelled.body["status"] == "REFUNDED" and cancelled.body["refundedCount"] == 2
        missing = await call(client, tn, "query", {"orderNo": "nope"})
        assert missing.code == "3001"
    finally:
        await receiver.close()


async def tripnest_hub(aiohttp_client: Any, db_url: str) -> TestClient:
    """A hub serving TripNest from its spec (no callbacks), 5 places tomorrow."""
    client = await hub_client(
        aiohttp_client,
        db_url,
        clock=FixedClock(T0),
        channel_specs_dirs=[SPECS_DIR],
        channel_settings={"tripnest": SECRETS},
    )
    await seed(client, capacity=5, slots=("",))
    return client


async def test_bad_input_answers_in_tripnest_codes_and_writes_nothing(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    tn = TripNestClient(now=lambda: T0)
    client = await tripnest_hub(aiohttp_client, sqlite_url)
    stranger = TripNestClient({**SECRETS, "TRIPNEST_PARTNER_ID": "someone"}, now=lambda: T0)
    assert (
        await call(client, stranger, "book", booking("X1", product="adult", day=TOMORROW, count=1))
    ).code == "1003"
    late = TripNestClient(now=lambda: T0.replace(hour=8))
    assert (
        await call(client, late, "book", booking("X2", product="adult", day=TOMORROW, count=1))
    ).code == "1002"
    unknown = booking("X3", product="ghost", day=TOMORROW, count=1)
    assert (await call(client, tn, "book", unknown)).code == "2002"
    good = id_number()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    one_bad = [{"name": "Li", "idType": "ID", "idNo": bad}]
    bad_id = booking("X4", product="realname", day=TOMORROW, count=1, visitors=one_bad)
    assert (await call(client, tn, "book", bad_id)).code == "2003"
    one_good = [{"name": "Li", "idType": "ID", "idNo": good}]
    short = booking("X5", product="realname", day=TOMORROW, count=2, visitors=one_good)
    assert (await call(client, tn, "book", short)).code == "2004"
    resp = await client.post("/api/channels/tripnest/book", data=b"\xff\xfe not json")
    assert resp.status == 200 and json.loads(await resp.read())["code"] == 1001
    async with hub_of(client).engine.connect() as conn:
        n = (await conn.execute(select(func.count()).select_from(OrderRow))).scalar_one()
    assert n == 0
    ok = booking("X6", product="realname", day=TOMORROW, count=1, visitors=one_good)
    assert (await call(client, tn, "book", ok)).code == "0"  # the same ID, right count: fine


async def test_partial_refunds_by_quantity_each_with_the_partners_refund_id(
    aiohttp_client: Any, db_url: str
) -> None:
    """A refund names how many units (the spec's quantity field) and the partner's refund
    id: k units refund k tickets (at their price), a second refund with another id is a
    new refund, the same id again is the first answer (a changed one a conflict), more
    than is left is refused in TripNest's words, and no quantity takes what is left."""
    tn = TripNestClient(now=lambda: T0)
    client = await tripnest_hub(aiohttp_client, db_url)
    book = booking("TR1", product="adult", day=TOMORROW, count=4)
    assert (await call(client, tn, "book", book)).code == "0"
    assert (await call(client, tn, "pay", {"orderNo": "TR1"})).code == "0"

    hub = hub_of(client)

    async def refunded_amount() -> int:
        async with hub.engine.connect() as conn:
            stmt = select(OrderRow.extra).where(OrderRow.partner_order_id == "TR1")
            return int((await conn.execute(stmt)).scalar_one().get("refunded_amount", 0))

    first = await call(client, tn, "refund", {"orderNo": "TR1", "refundNo": "R1", "count": 1})
    assert first.code == "0" and first.body["refundedCount"] == 1, first
    assert first.body["status"] == "ISSUED"
    assert await refunded_amount() == 10000  # one ticket at its price, not the order
    again = await call(client, tn, "refund", {"orderNo": "TR1", "refundNo": "R1", "count": 1})
    assert again == first
    second = await call(client, tn, "refund", {"orderNo": "TR1", "refundNo": "R2", "count": 2})
    assert second.code == "0" and second.body["refundedCount"] == 3, second
    changed = await call(client, tn, "refund", {"orderNo": "TR1", "refundNo": "R1", "count": 2})
    assert changed.code == "2009", changed
    too_many = await call(client, tn, "refund", {"orderNo": "TR1", "refundNo": "R3", "count": 2})
    assert too_many.code == "3003", too_many
    bad = await call(client, tn, "refund", {"orderNo": "TR1", "refundNo": "R4", "count": "x"})
    assert bad.code == "1004", bad
    rest = await call(client, tn, "refund", {"orderNo": "TR1", "refundNo": "R5"})
    assert rest.code == "0" and rest.body["refundedCount"] == 4, rest
    assert rest.body["status"] == "REFUNDED"
    assert await refunded_amount() == 4 * 10000
