"""The change cursor never skips a ticket, even when transactions of several hub
processes commit out of order (PostgreSQL, real processes, concurrent order commits
while a bridge keeps reading "changes since my cursor")."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from hub.testing.processes import HubAdmin, HubProcesses

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TOKEN = "cursor-bridge"


async def test_cursor_never_skips_under_concurrent_commits(pg_url: str) -> None:
    day = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).date().isoformat()
    env = {"TICKETHUB_BRIDGE_TOKENS": f'{{"v1": "{TOKEN}"}}', "TICKETHUB_OUTBOX_WORKERS": "0"}
    async with HubProcesses(pg_url, 2, env=env) as hubs, aiohttp.ClientSession() as http:
        admin = HubAdmin(http, hubs.urls[0], hubs.admin_token)
        await admin.put_venue("v1", "Cursor Hill")
        await admin.put_product(
            "adult", {"venue_id": "v1", "name": "A", "pool": "main", "prices": [{"amount": 1}]}
        )
        await admin.put_inventory("main", day, day, [("", 10_000)])
        sold: set[str] = set()
        seen: set[str] = set()
        done = asyncio.Event()
        regressions: list[tuple[int, int]] = []

        async def sell(n: int) -> None:
            url = hubs.urls[n % 2] + "/api/boxoffice/orders"
            body = {
                "travel_date": day,
                "lines": [{"product_id": "adult", "quantity": 1 + n % 3}],
                "confirm": True,
            }
            headers = {
                "Authorization": f"Bearer {hubs.boxoffice_token}",
                "Idempotency-Key": f"k{n}",
            }
            async with http.post(url, json=body, headers=headers) as resp:
                data = await resp.json()
                assert resp.status == 201, data
                sold.update(t["id"] for t in data["order"]["tickets"])

        async def read(cursor: str, n: int) -> str:
            async with http.get(
                hubs.urls[n % 2] + "/api/bridge/venues/v1/changes",
                params={"cursor": cursor, "limit": "7"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as resp:
                page: dict[str, Any] = await resp.json()
            last = int(cursor.split(".")[0]) if cursor else -1
            for t in page["tickets"]:
                if t["seq"] < last:
                    regressions.append((last, t["seq"]))
                seen.add(t["id"])
            return str(page["cursor"])

        async def poll() -> str:
            cursor, n = "", 0
            while not done.is_set():
                cursor = await read(cursor, n)
                n += 1
            return cursor

        async def load() -> None:
            sem = asyncio.Semaphore(24)

            async def one(n: int) -> None:
                async with sem:
                    await sell(n)

            await asyncio.gather(*(one(n) for n in range(240)))
            done.set()

        poller = asyncio.create_task(poll())
        await load()
        cursor = await poller
        while True:  # catch up from where the poller stopped (never from the start)
            before = len(seen)
            cursor = await read(cursor, 0)
            if len(seen) == before:
                break
        assert regressions == []
        assert sold - seen == set()  # nothing skipped
        assert len(sold) == sum(1 + n % 3 for n in range(240))
