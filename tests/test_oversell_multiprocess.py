"""No oversell across hub processes: real concurrent HTTP orders against three processes
sharing one PostgreSQL database — and the control that proves the test can fail.

The control runs the same burst with ``TICKETHUB_UNSAFE_INVENTORY=1`` (the capacity check
becomes a read-then-write) and must see an oversell. Without it, a test that passed would
only show that the burst never raced, not that the inventory is safe.

Why ``accepted units == capacity`` exactly is deterministic with mixed quantities: the
quantities cycle 1, 2, 3, so there are 80 one-unit orders for 40 places. Fewer than 41 of
them can be accepted, so at least one is refused — and a safe inventory refuses a one-unit
order only when nothing at all is left.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from hub.bench.load import ACCEPTED, SOLD_OUT, LoadResult, run_load
from hub.bench.orders import POOL, TIMEZONE, hub_order, seed_catalog
from hub.testing.processes import HubAdmin, HubProcesses

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PROCESSES = 3
CAPACITY = 40
ORDERS = 240
SLOT = "09:00-11:00"
CONTROL_ROUNDS = 5


def quantity(i: int) -> int:
    return 1 + i % 3


def travel_day(offset: int) -> str:
    today = datetime.now(ZoneInfo(TIMEZONE)).date()
    return (today + timedelta(days=3 + offset)).isoformat()


async def burst(
    hubs: HubProcesses, admin: HubAdmin, day: str, run: str
) -> tuple[LoadResult, int, dict[str, Any]]:
    """A fresh slot of CAPACITY on `day`, then ORDERS orders all at once, round-robin over
    the processes. Returns the load result, the accepted units and the audit of the slot."""
    await admin.put_inventory(POOL, day, day, [(SLOT, CAPACITY)])
    result = await run_load(
        hubs.urls,
        hub_order(hubs.boxoffice_token, day, SLOT, run, quantity),
        total=ORDERS,
        concurrency=ORDERS,
        run_timeout=120,
    )
    assert result.completed == ORDERS
    assert {o.url for o in result.outcomes} == set(hubs.urls)
    units = sum(quantity(o.index) for o in result.outcomes if o.code == ACCEPTED)
    (audit,) = [s for s in await admin.audit(POOL, day) if s["slot"] == SLOT]
    return result, units, audit


async def test_no_oversell_across_processes(pg_url: str) -> None:
    async with (
        HubProcesses(pg_url, PROCESSES) as hubs,
        aiohttp.ClientSession() as http,
    ):
        admin = HubAdmin(http, hubs.urls[0], hubs.admin_token)
        await seed_catalog(admin)
        day = travel_day(0)
        result, units, audit = await burst(hubs, admin, day, "safe")
        cells = await admin.inventory(POOL, day)

    assert units == CAPACITY
    refused = {o.code for o in result.outcomes if o.code != ACCEPTED}
    assert refused == {SOLD_OUT}
    assert audit["capacity"] == CAPACITY
    assert audit["allocated"] == CAPACITY
    assert audit["oversold"] == 0
    assert sum(c["sold"] for c in cells if c["slot"] == SLOT) == CAPACITY


async def test_control_unsafe_inventory_is_caught(pg_url: str) -> None:
    """The same checks catch a read-then-write inventory. A race is probabilistic, so up
    to CONTROL_ROUNDS bursts (a fresh slot each) may run; one oversell is enough."""
    seen: list[tuple[int, dict[str, Any]]] = []
    async with (
        HubProcesses(pg_url, PROCESSES, env={"TICKETHUB_UNSAFE_INVENTORY": "1"}) as hubs,
        aiohttp.ClientSession() as http,
    ):
        admin = HubAdmin(http, hubs.urls[0], hubs.admin_token)
        await seed_catalog(admin)
        for attempt in range(CONTROL_ROUNDS):
            _result, units, audit = await burst(
                hubs, admin, travel_day(attempt), f"unsafe{attempt}"
            )
            seen.append((units, audit))
            if audit["oversold"] > 0:
                break

    units, audit = seen[-1]
    assert audit["oversold"] > 0, f"no oversell in {len(seen)} unsafe rounds: {seen}"
    assert audit["allocated"] > audit["capacity"]
    assert units > CAPACITY
