"""Several hub processes share one outbox: three workers, each with its OWN engine (its
own connection pool, as separate processes would have), drain 300 calls concurrently and
the partner sees each call land exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
from outbox_kit import HttpPartner, PartnerServer, call, enqueue, make_worker, rows
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import SystemClock
from hub.outbox import OutboxStore, RetryPolicy
from hub.storage.db import create_all, create_engine
from tests.support import BACKGROUND_BOUND

pytestmark = pytest.mark.postgres

CALLS = 300
WORKERS = 3
QUICK = RetryPolicy(
    timeout_seconds=5,
    initial_seconds=0.02,
    multiplier=2,
    max_seconds=0.2,
    jitter_seconds=0.02,
    deadline_seconds=600,
)


@pytest.fixture
async def engines(pg_url: str) -> AsyncIterator[list[AsyncEngine]]:
    engines = [create_engine(pg_url, pool_size=5) for _ in range(WORKERS)]
    await create_all(engines[0])
    try:
        yield engines
    finally:
        for engine in engines:
            await engine.dispose()


async def test_three_workers_on_three_engines_deliver_each_call_exactly_once(
    engines: list[AsyncEngine], partner: PartnerServer
) -> None:
    clock = SystemClock()
    keys = [f"order-{i:03d}:confirmed" for i in range(CALLS)]
    for key in keys[::10]:
        partner.plan(key, "503")  # some calls need a retry, which races differently
    partner.max_jitter_seconds = 0.003
    for start in range(0, CALLS, 100):
        await enqueue(engines[0], [call(k) for k in keys[start : start + 100]], clock.now(), QUICK)

    sessions = [aiohttp.ClientSession() for _ in range(WORKERS)]
    workers = [
        make_worker(
            engine,
            clock,
            {"acme": HttpPartner("acme", session, partner.url, retry_policy=QUICK)},
            worker_id=f"process-{n}",
            batch=10,
            concurrency=8,
            poll_seconds=0.02,
            lease_seconds=30,
        )
        for n, (engine, session) in enumerate(zip(engines, sessions, strict=True))
    ]
    try:
        for worker in workers:
            await worker.start()
        await asyncio.wait_for(_until_all_done(engines[0]), BACKGROUND_BOUND)  # a hang guard
    finally:
        for worker in workers:
            await worker.stop()
        for session in sessions:
            await session.close()

    assert sum(partner.landed.values()) == CALLS
    assert set(partner.landed) == set(keys)
    assert all(count == 1 for count in partner.landed.values())
    found = await rows(engines[0])
    # every attempt the database counted reached the partner exactly once, and no other
    assert {k: e.attempts for k, e in found.items()} == dict(partner.hits)
    assert all(found[k].attempts == 2 for k in keys[::10])
    by_worker = Counter(e.claimed_by for e in found.values())
    assert sum(by_worker.values()) == CALLS and len(by_worker) >= 2  # they did share


async def _until_all_done(engine: AsyncEngine) -> None:
    while (await OutboxStore.stats(engine)).get("acme", {}).get("done", 0) < CALLS:
        await asyncio.sleep(0.05)
