"""The whole-day cap is never oversold across hub processes: real concurrent HTTP orders
over two slots against three processes sharing one PostgreSQL — and the control that
proves the test can fail (``TICKETHUB_UNSAFE_INVENTORY=1``: the ledger reads without the
lock and writes absolute counts, so concurrent batches lose each other's cap units).

Both slots hold more than the cap, so only the cap refuses. Quantities cycle 1, 2, 3 as in
`tests.test_oversell_multiprocess`: 80 one-visitor orders for a cap of 40, so a safe cap
is met exactly.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from hub.bench.load import ACCEPTED, SOLD_OUT, run_load
from hub.bench.orders import POOL, VENUE, hub_order, seed_catalog
from hub.inventory.daycap import venue_cap_pool
from hub.testing.processes import HubAdmin, HubProcesses
from tests.test_oversell_multiprocess import quantity, travel_day

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PROCESSES = 3
CAP = 40
ORDERS = 240
SLOTS = ("09:00-11:00", "13:00-15:00")
CONTROL_ROUNDS = 5


async def burst(hubs: HubProcesses, admin: HubAdmin, day: str, run: str) -> tuple[int, Any]:
    """Slots of 200 each and a venue cap of CAP on `day`; ORDERS orders at once over both
    slots and every process. Returns the accepted visitors and the cap cell."""
    await admin.put_inventory(POOL, day, day, [(s, 200) for s in SLOTS])
    await admin.call(
        "PUT",
        f"/api/admin/venues/{VENUE}/day-cap",
        json={"date_from": day, "date_to": day, "capacity": CAP},
    )
    result = await run_load(
        hubs.urls,
        hub_order(hubs.boxoffice_token, day, list(SLOTS), run, quantity),
        total=ORDERS,
        concurrency=ORDERS,
        run_timeout=120,
    )
    assert result.completed == ORDERS
    assert {o.code for o in result.outcomes} <= {ACCEPTED, SOLD_OUT}
    units = sum(quantity(o.index) for o in result.outcomes if o.code == ACCEPTED)
    caps = await admin.call("GET", f"/api/admin/venues/{VENUE}/day-cap", params={"date": day})
    (cap,) = [c for c in caps["caps"] if c["pool"] == venue_cap_pool(VENUE)]
    return units, cap


async def test_day_cap_holds_across_processes(pg_url: str) -> None:
    async with (
        HubProcesses(pg_url, PROCESSES) as hubs,
        aiohttp.ClientSession() as http,
    ):
        admin = HubAdmin(http, hubs.urls[0], hubs.admin_token)
        await seed_catalog(admin)
        units, cap = await burst(hubs, admin, travel_day(0), "cap-safe")
    assert units == CAP
    assert (cap["sold"], cap["available"]) == (CAP, 0)


async def test_control_unsafe_ledger_loses_cap_units(pg_url: str) -> None:
    seen: list[tuple[int, Any]] = []
    async with (
        HubProcesses(pg_url, PROCESSES, env={"TICKETHUB_UNSAFE_INVENTORY": "1"}) as hubs,
        aiohttp.ClientSession() as http,
    ):
        admin = HubAdmin(http, hubs.urls[0], hubs.admin_token)
        await seed_catalog(admin)
        for attempt in range(CONTROL_ROUNDS):
            units, cap = await burst(hubs, admin, travel_day(attempt), f"cap-unsafe{attempt}")
            seen.append((units, cap))
            if units > CAP:
                break
    units, cap = seen[-1]
    assert units > CAP, f"no oversold cap in {len(seen)} unsafe rounds: {seen}"
    assert cap["sold"] < units  # the lost updates the guarded delta refuses
