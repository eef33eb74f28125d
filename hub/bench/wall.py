"""Benchmarks of the flow wall's stream.

- `WallWatchers`: N server-sent-event clients kept on ``/api/admin/wall/stream``; during
  ``tickethub bench orders --sse-clients N`` they run in a process of their own
  (`hub.bench.wall_clients`), so the cost of open walls shows in the hub's figures and
  not in the load generator's (run it with and without).
- `bench_wall` (``tickethub bench wall``): the time from a synced scan — a bridge's
  upload sent to the hub — until the wall's stream delivers the snapshot with the new
  in-park figure at a client, p50/p99 over S scans. With ``--processes 2`` or more the
  walls watch the LAST process and the bridge uploads to the FIRST, so the figure
  travels through the database and the other process's version check.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from hub import jsonutil
from hub.bench.orders import PRODUCT, TIMEZONE, VENUE, fresh_database, seed_catalog
from hub.tasks import cancel_and_wait
from hub.testing.processes import HubAdmin, HubProcesses
from hub.wall.events import snapshots

STREAM = "/api/admin/wall/stream"


class WallWatchers:
    """``n`` clients on the venue's wall stream, spread over ``urls``; entered once each
    has its first snapshot. ``events`` counts the snapshots they received (``counts``
    per client); ``latest`` is each one's last in-park figure and ``orders`` its last
    count of orders sold today (all channels), with ``changed`` set at every snapshot."""

    def __init__(self, urls: Sequence[str], token: str, n: int, venue: str = VENUE) -> None:
        self.urls = list(urls)
        self.token = token
        self.n = n
        self.venue = venue
        self.events = 0
        self.latest: list[int] = [-1] * n
        self.orders: list[int] = [-1] * n
        self.counts: list[int] = [0] * n  # snapshots each client received
        self.changed = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> WallWatchers:
        if not self.n:
            return self
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )
        ready = [asyncio.Event() for _ in range(self.n)]
        self._tasks = [
            asyncio.create_task(self._watch(i, self.urls[i % len(self.urls)], ready[i]))
            for i in range(self.n)
        ]
        async with asyncio.timeout(60):
            for i, event in enumerate(ready):
                waiter = asyncio.create_task(event.wait())
                await asyncio.wait({waiter, self._tasks[i]}, return_when=asyncio.FIRST_COMPLETED)
                if not event.is_set():
                    await cancel_and_wait(waiter)
                    self._tasks[i].result()  # raises what broke the stream
                    raise RuntimeError("a wall stream ended before its first snapshot")
        return self

    async def _watch(self, i: int, url: str, ready: asyncio.Event) -> None:
        assert self._http is not None
        headers = {"Authorization": f"Bearer {self.token}"}
        params = {"venue": self.venue}
        async with self._http.get(f"{url}{STREAM}", params=params, headers=headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"wall stream answered {resp.status}: {await resp.text()}")
            async for wall in snapshots(resp):
                self.events += 1
                self.counts[i] += 1
                self.latest[i] = int(wall["in_park"]["now"])
                self.orders[i] = int(wall["sales"]["totals"]["orders"])
                self.changed.set()
                ready.set()

    async def until(self, in_park: int, timeout: float = 30.0) -> None:
        """Wait until every client saw ``in_park`` (or more)."""
        await self._until(self.latest, in_park, timeout)

    async def until_orders(self, orders: int, timeout: float = 30.0) -> None:
        """Wait until every client saw ``orders`` sold today (or more)."""
        await self._until(self.orders, orders, timeout)

    async def _until(self, seen: list[int], at_least: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while self.n and min(seen) < at_least:
                self.changed.clear()
                await self.changed.wait()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            await cancel_and_wait(task)
        if self._http is not None:
            await self._http.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench_wall(
    db: str, *, scans: int, clients: int, processes: int, pg_url: str, gap: float
) -> dict[str, Any]:
    """Sell ``scans`` tickets for today, then upload one entry at a time (``gap`` seconds
    apart, so each is measured alone) and time each until every client's wall shows it."""
    token = "bridge-" + secrets.token_hex(8)
    env = {
        "TICKETHUB_ACCESS_LOG": "0",
        "TICKETHUB_BRIDGE_TOKENS": jsonutil.dumps({VENUE: token}),
    }
    today = datetime.now(ZoneInfo(TIMEZONE)).date().isoformat()
    run = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    uploads: list[float] = []
    async with (
        fresh_database(db, pg_url) as url,
        HubProcesses(url, processes, env=env) as hubs,
        aiohttp.ClientSession() as http,
    ):
        admin = HubAdmin(http, hubs.urls[0], hubs.admin_token)
        await seed_catalog(admin)
        await admin.put_inventory("bench", today, today, [("", scans)])
        tickets: list[str] = []
        box = {"Authorization": f"Bearer {hubs.boxoffice_token}"}
        for i in range(scans):
            async with http.post(
                f"{hubs.urls[0]}/api/boxoffice/orders",
                json={
                    "travel_date": today,
                    "lines": [{"product_id": PRODUCT, "quantity": 1}],
                    "confirm": True,
                },
                headers={**box, "Idempotency-Key": f"{run}-{i}"},
            ) as resp:
                body = await resp.json()
                if resp.status != 201:
                    raise RuntimeError(f"could not sell the bench tickets: {body}")
                tickets.append(body["order"]["tickets"][0]["id"])
        upload = f"{hubs.urls[0]}/api/bridge/venues/{VENUE}/redemptions"
        bridge = {"Authorization": f"Bearer {token}"}
        async with WallWatchers(hubs.urls[-1:], hubs.admin_token, clients) as walls:
            for i, ticket in enumerate(tickets):
                started = time.perf_counter()
                item = {
                    "id": f"{run}-scan-{i}",
                    "ticket_id": ticket,
                    "gate": f"gate-{i % 4}",
                    "direction": "in",
                    "at": datetime.now(UTC).isoformat(),
                    "accepted": True,
                }
                async with http.post(
                    upload, json={"bridge": "bench", "redemptions": [item]}, headers=bridge
                ) as resp:
                    if resp.status != 200:
                        raise RuntimeError(f"upload answered {resp.status}: {await resp.text()}")
                uploads.append((time.perf_counter() - started) * 1000)
                await walls.until(i + 1)
                latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(gap)
            events = walls.events
    return {
        "db": db,
        "processes": processes,
        "cross_process": processes > 1,
        "clients": clients,
        "scans": scans,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(_percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "upload_p50_ms": round(statistics.median(uploads), 1),  # the bridge's answer alone
        "events": events,
    }
