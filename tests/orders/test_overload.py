"""Graceful overload: a full admission queue in front of the order writer sheds new orders
at once with ``503`` + ``Retry-After`` (partners: their own "busy, retry" code), and a shed
order wrote nothing — its key is free, its stock untouched.

The writer is held on an event (not on time): the first order's batch waits inside its
transaction, so the queue behind it fills deterministically whatever the machine's speed.
Thread events, since the writer's transactions run on a loop of their own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.channels.loader import load_all
from hub.orders.intake import IntakeItem
from hub.orders.writer import GroupCommitWriter, WriterBusy, default_queue_max
from hub.sdk.outcome import BUSY, Outcome
from hub.settings import Settings
from hub.storage.tables import IdempotencyRow, OrderRow
from tests.support import ADMIN, BOX, TOMORROW, hub_client, hub_of, order, order_body, seed


async def _count(client: Any, table: Any) -> int:
    async with hub_of(client).engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_a_full_queue_sheds_with_503_and_retry_after_and_writes_nothing(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await hub_client(aiohttp_client, db_url, batch_max=1, order_queue_max=2)
    await seed(client)
    writer = hub_of(client).orders.writer
    assert writer.queue_max == 2
    assert writer.own_loop  # the hub's default: transactions on the writer's own loop
    entered, release = threading.Event(), threading.Event()
    real = writer.process

    async def held(conn: AsyncConnection, items: Sequence[IntakeItem]) -> list[Outcome | None]:
        entered.set()
        await asyncio.to_thread(release.wait, 60)
        return await real(conn, items)

    writer.process = held
    async with asyncio.timeout(60):  # a guard against a hang, not a speed assertion
        first = asyncio.create_task(order(client, "a", confirm=True))
        await asyncio.to_thread(entered.wait, 60)  # "a" is in its transaction, queue empty
        queued = [asyncio.create_task(order(client, k, confirm=True)) for k in ("b", "c")]
        while not writer.full:
            await asyncio.sleep(0.01)
        shed = []
        for key in ("d", "e"):
            resp = await client.post(
                "/api/boxoffice/orders",
                json=order_body(confirm=True),
                headers={**BOX, "Idempotency-Key": key},
            )
            shed.append((resp.status, resp.headers.get("Retry-After"), await resp.json()))
        release.set()
        placed = [await first, *[await t for t in queued]]
    assert [s for s, _ in placed] == [201, 201, 201]
    for status, retry_after, body in shed:
        assert (status, body["code"]) == (503, BUSY)
        assert retry_after is not None and int(retry_after) >= 1
    # the shed orders wrote nothing: three orders, three keys, three units sold
    assert await _count(client, OrderRow.__table__) == 3
    assert await _count(client, IdempotencyRow.__table__) == 3
    resp = await client.get(f"/api/admin/inventory?pool=main&date={TOMORROW}", headers=ADMIN)
    sold = sum(c["sold"] for c in (await resp.json())["cells"] if c["slot"] == "09:00-11:00")
    assert sold == 3
    # and the same request, sent again once the queue drained, is a new order, not a replay
    resp = await client.post(
        "/api/boxoffice/orders",
        json=order_body(confirm=True),
        headers={**BOX, "Idempotency-Key": "d"},
    )
    assert resp.status == 201 and "Idempotent-Replay" not in resp.headers


async def test_submit_refuses_without_queueing_when_full(sqlite_url: str) -> None:
    """The writer itself: `WriterBusy` leaves the queue as it was (nothing to answer later)."""
    from hub.storage.db import create_engine

    engine = create_engine(sqlite_url)
    entered, gate = asyncio.Event(), asyncio.Event()

    async def process(_conn: AsyncConnection, items: Sequence[int]) -> list[int]:
        entered.set()
        await gate.wait()
        return list(items)

    async def finish(_items: Sequence[int], results: list[int]) -> list[int]:
        return results

    writer: GroupCommitWriter[int, int] = GroupCommitWriter(
        engine, process, finish, batch_max=1, queue_max=1
    )
    writer.start()
    try:
        async with asyncio.timeout(60):
            one = asyncio.create_task(writer.submit(1))
            await entered.wait()  # "1" is in a batch, the queue is empty
            two = asyncio.create_task(writer.submit(2))
            while not writer.full:
                await asyncio.sleep(0.01)
            with pytest.raises(WriterBusy):
                await writer.submit(3)
            assert writer._queue.qsize() == 1
            gate.set()
            assert (await one, await two) == (1, 2)
    finally:
        await writer.stop()
        await engine.dispose()


def test_queue_default_follows_the_batch_size_and_is_configurable() -> None:
    assert default_queue_max(128) == 256
    assert default_queue_max(1) == 8
    assert Settings(order_queue_max=500).order_queue_max == 500
    with pytest.raises(ValueError):
        Settings(order_queue_max=0)


def test_partners_hear_busy_in_their_own_retry_code() -> None:
    """A spec without its own BUSY entry answers a shed order with its INTERNAL code (the
    system error every partner retries), in its own envelope."""
    for name, spec in load_all().items():
        busy, internal = spec.result_entry(BUSY, "create"), spec.result_entry("INTERNAL", "create")
        assert (busy.code, busy.message) == (internal.code, internal.message), name
