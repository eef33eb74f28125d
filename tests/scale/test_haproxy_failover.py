"""Kill one hub behind HAProxy mid-burst: clients that retry with the same
Idempotency-Key lose nothing and get no duplicate (issue 17, item 7).

Two real hub processes on one PostgreSQL database behind a real HAProxy (the bench's
generated configuration). Clients send box-office orders through the balancer and
retry a failed or cut request with the SAME key until they get an answer; once a
quarter of the orders are answered (an event, not a timer) hub #1 is SIGKILLed. At the
end every key has exactly one order: the audit's allocation equals the number of
clients' orders, each order id answered once, none oversold.

Skipped with the reason when ``haproxy`` is not installed, unless
``TICKETHUB_REQUIRE_HAPROXY=1`` (CI), where it fails instead."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import aiohttp
import pytest

from hub.bench.haproxy import INSTALL_HINT, HAProxy, haproxy_binary
from hub.bench.orders import POOL, bench_days, hub_order, seed_hub
from hub.testing.processes import HubAdmin, HubProcesses

ORDERS = 240
CLIENTS = 16
ATTEMPTS = 20


def _require_haproxy() -> None:
    if haproxy_binary() is None:
        if os.environ.get("TICKETHUB_REQUIRE_HAPROXY", "") == "1":
            pytest.fail(f"TICKETHUB_REQUIRE_HAPROXY=1 but {INSTALL_HINT}")
        pytest.skip(INSTALL_HINT)


@pytest.mark.slow
async def test_killing_a_hub_mid_burst_loses_nothing_and_duplicates_nothing(
    pg_url: str,
) -> None:
    _require_haproxy()
    hot_day, warm_day = bench_days()
    async with (
        HubProcesses(pg_url, 2, env={"TICKETHUB_ACCESS_LOG": "0"}) as hubs,
        aiohttp.ClientSession() as admin_http,
    ):
        admin = HubAdmin(admin_http, hubs.urls[0], hubs.admin_token)
        await seed_hub(admin, hot_day, warm_day, capacity=ORDERS * 2, warm=10)
        make = hub_order(hubs.boxoffice_token, hot_day, "10:00-11:00", uuid.uuid4().hex[:8])
        answers: dict[int, dict[str, Any]] = {}
        retried = 0
        quarter = asyncio.Event()
        async with (
            HAProxy(hubs.urls) as lb,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        ):
            queue = list(range(ORDERS))

            async def client() -> None:
                nonlocal retried
                while queue:
                    i = queue.pop()
                    req = make(i)
                    for attempt in range(ATTEMPTS):
                        try:
                            async with http.post(
                                lb.url + req.path, json=req.json, headers=dict(req.headers)
                            ) as resp:
                                body = await resp.json(content_type=None)
                                if resp.status == 201:
                                    answers[i] = body
                                    break
                        except (aiohttp.ClientError, TimeoutError, ValueError):
                            pass
                        retried += 1
                        await asyncio.sleep(0.05 * (attempt + 1))  # a client's back-off
                    if len(answers) >= ORDERS // 4:
                        quarter.set()

            async def killer() -> None:
                await asyncio.wait_for(quarter.wait(), timeout=120)
                hubs.kill(1)

            await asyncio.gather(killer(), *(client() for _ in range(CLIENTS)))
        assert hubs.returncodes()[1] is not None  # it did die mid-burst
        audit = await admin.audit(POOL, hot_day)
    assert len(answers) == ORDERS, f"lost: {sorted(set(range(ORDERS)) - answers.keys())}"
    ids = [a["id"] if "id" in a else a["order"]["id"] for a in answers.values()]
    assert len(set(ids)) == ORDERS  # one order per key, each answered once
    assert sum(int(s["allocated"]) for s in audit) == ORDERS  # no duplicate in the database
    assert sum(int(s["oversold"]) for s in audit) == 0
