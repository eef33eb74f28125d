"""Many lifecycle moves at once right after the catalog cache went cold (a fresh hub, an
admin edit, or simply its TTL running out under load) — on SQLite and PostgreSQL.

A move runs in a write transaction holding one pooled connection. If it then asked the
catalog for a venue or product that the cache no longer had, the catalog opened a second
pooled connection: with every connection held by a move (on SQLite nine of them waiting
in the busy handler for the one holding the write lock), that second connection never
came, and the burst ended in pool timeouts / "database is locked" after 30 s. The waits
below are bounded so that a regression fails instead of hanging.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.catalog import CatalogService
from hub.catalog.service import new_venue_keys
from hub.clock import FixedClock
from hub.domain import OrderLine, OrderRequest, Visitor
from hub.domain.rules import RuleEngine, builtin_registry
from hub.sdk.outcome import Outcome
from hub.storage.db import create_all, create_engine
from hub.storage.tables import VenueRow
from tests.orders.test_order_flow import cells
from tests.support import T0, TOMORROW, hub_client, hub_of, id_number, order, seed

BURST = 40  # four times SQLite's pool of 10, twice PostgreSQL's 10 + 10 overflow
BOUND = 20.0  # seconds; below the 30 s pool / busy timeouts the deadlock ran into
LINGER = 120.0  # seconds a stuck burst may take to run into those timeouts


async def bounded(moves: Sequence[Coroutine[Any, Any, Outcome]]) -> list[Outcome]:
    """The moves' answers, or a failure if they are not all in within `BOUND` seconds.

    Stuck moves are not cancelled: cancelling one inside a pool checkout or SQLite's
    busy handler leaves an aiosqlite connection that never closes, and the test's
    teardown would hang instead of failing. They run into their own timeouts first."""
    tasks = [asyncio.ensure_future(m) for m in moves]
    _, pending = await asyncio.wait(tasks, timeout=BOUND)
    if pending:
        await asyncio.wait(pending, timeout=LINGER)
        ended = Counter(
            type(t.exception()).__name__ if t.exception() else t.result().code or "ok"
            for t in tasks
            if t.done()
        )
        pytest.fail(f"{len(pending)} of {len(tasks)} moves still waiting after {BOUND} s; {ended}")
    return [t.result() for t in tasks]


async def placed_orders(client: Any, n: int, *, confirm: bool = False) -> list[str]:
    ids = []
    for i in range(n):
        status, body = await order(client, f"burst-{i}", confirm=confirm)
        assert status == 201, body
        ids.append(body["order"]["id"])
    return ids


async def test_a_burst_of_confirms_on_a_cold_catalog(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=BURST)
    ids = await placed_orders(client, BURST)
    hub = hub_of(client)
    hub.catalog.forget_venue("v1")  # the tickets' signing key must be read again

    results = await bounded([hub.orders.confirm(oid) for oid in ids])

    assert all(r.ok for r in results), [r.body for r in results if not r.ok][:3]
    assert {r.body["order"]["state"] for r in results} == {"confirmed"}
    assert all(len(r.body["order"]["tickets"]) == 1 for r in results)
    c = (await cells(client))["09:00-11:00"]
    assert (c["held"], c["sold"]) == (0, BURST)


async def test_a_burst_of_refunds_on_a_cold_catalog(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=BURST)
    ids = await placed_orders(client, BURST, confirm=True)
    hub = hub_of(client)
    hub.catalog.forget_product("adult")  # a refund reads the product to find its pool

    results = await bounded([hub.orders.refund(oid) for oid in ids])

    assert all(r.ok for r in results), [r.body for r in results if not r.ok][:3]
    assert {r.body["order"]["state"] for r in results} == {"refunded"}
    c = (await cells(client))["09:00-11:00"]
    assert (c["held"], c["sold"]) == (0, 0)  # every unit back, once


async def test_a_burst_of_visitor_swaps_on_a_cold_catalog(aiohttp_client: Any, db_url: str) -> None:
    client = await hub_client(aiohttp_client, db_url)
    await seed(client, capacity=BURST)
    orders = hub_of(client).orders
    ids = []
    for i in range(BURST):
        out = await orders.place(
            OrderRequest(
                channel="boxoffice",
                partner_order_id=f"rn-{i}",
                travel_date=TOMORROW,
                slot="09:00-11:00",
                lines=(OrderLine(product_id="realname", quantity=1),),
                visitors=(Visitor(name=f"游客{i}", id_number=id_number(seq=i)),),
                confirm=True,
            )
        )
        assert out.ok, out.body
        ids.append(out.order_id)
    hub_of(client).catalog.forget_venue("v1")
    hub_of(client).catalog.forget_product("realname")

    results = await bounded(
        [
            orders.replace_visitors(
                oid, {0: Visitor(name=f"替补{i}", id_number=id_number(seq=100 + i))}
            )
            for i, oid in enumerate(ids)
        ]
    )

    assert all(r.ok for r in results), [r.body for r in results if not r.ok][:3]
    assert all(len(r.body["revoked_tickets"]) == 1 for r in results)
    assert len({t for r in results for t in r.body["replaced"].values()}) == BURST


# -- the mechanism, on a pool of one connection ------------------------------------------


@pytest.fixture
async def single(sqlite_url: str) -> AsyncIterator[tuple[AsyncEngine, CatalogService]]:
    """An engine whose pool holds one connection, and a cold catalog on it."""
    engine = create_engine(sqlite_url, pool_size=1)
    try:
        await create_all(engine)
        async with engine.begin() as conn:
            await conn.execute(
                VenueRow.__table__.insert().values(
                    id="v1", name="Test Mountain", **new_venue_keys()
                )
            )
        yield engine, CatalogService(engine, RuleEngine(builtin_registry()), FixedClock(T0))
    finally:
        await engine.dispose()


async def test_a_cold_read_goes_through_the_callers_connection(
    single: tuple[AsyncEngine, CatalogService],
) -> None:
    """With the pool's only connection held by a write transaction, cold reads given that
    connection still answer (they used to wait for a second one), sharing one load."""
    engine, catalog = single
    async with engine.begin() as conn:
        burst = asyncio.gather(*(catalog.venue("v1", conn=conn) for _ in range(5)))
        found = await asyncio.wait_for(burst, BOUND)
    assert found[0] is not None and found[0][0].name == "Test Mountain"
    assert all(f is found[0] for f in found)
    assert await catalog.venue("v1") is found[0]  # cached: no connection needed


async def test_a_transaction_does_not_join_a_read_waiting_for_the_pool(
    single: tuple[AsyncEngine, CatalogService],
) -> None:
    engine, catalog = single
    async with engine.begin() as conn:
        pooled = asyncio.ensure_future(catalog.venue("v1"))  # waits for `conn` to come back
        await asyncio.sleep(0)  # it has started its flight
        inside = await asyncio.wait_for(catalog.venue("v1", conn=conn), BOUND)
        assert inside is not None and inside[0].id == "v1"
    outside = await asyncio.wait_for(pooled, BOUND)
    assert outside is not None and outside[0].id == "v1"


async def test_a_cancelled_leader_does_not_cancel_the_readers_waiting_on_it(
    single: tuple[AsyncEngine, CatalogService],
) -> None:
    engine, catalog = single
    async with engine.begin():
        leader = asyncio.ensure_future(catalog.venue("v1"))  # waits for the pool
        await asyncio.sleep(0)
        follower = asyncio.ensure_future(catalog.venue("v1"))  # waits for the leader
        await asyncio.sleep(0)
        leader.cancel()
        await asyncio.wait([leader])
        assert leader.cancelled()
    found = await asyncio.wait_for(follower, BOUND)  # read on its own once the pool frees
    assert found is not None and found[0].id == "v1"
