"""``tickethub bench failover``: how fast the bridge notices the hub is back, moves to the
backup link and comes back to the preferred one — measured, never asserted.

One real hub process (``python -m hub serve``) on a fresh database, reached through two
`LinkProxy` links on loopback (the venue line, preferred, and a 4G router); a bridge in
this process with its real sync loop and the system clock. Each cycle:

* reconnect: both links cut, the bridge goes OFFLINE, a random outage (1 s plus up to one
  heartbeat interval, so the return falls anywhere in the heartbeat's phase), then the
  line comes back: seconds until ONLINE, and until the decision taken in the dark is
  acknowledged;
* fail-over (refused): the line refuses connections and a decision is taken at that
  instant: seconds until that decision is acknowledged through the 4G router;
* fail-back: the line answers again (after a random pause): seconds until the bridge
  syncs through it — between ``failback_after - 1`` and ``failback_after`` heartbeat
  intervals by design (a flapping line is not trusted on its first answer);
* fail-over (blackhole): the line swallows packets (a router whose uplink died): the
  bridge only learns from its request timeout (``hub_timeout``), then the same.

At the end the hub's rows are counted against the bridge's log: ``lost`` and
``duplicated`` must be 0. Every wait is bounded (``bound`` seconds), so a broken loop
ends the bench instead of hanging it.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from hardware_bridge.runtime import Bridge
from hardware_bridge.settings import BridgeSettings
from hub.domain.gate import Medium, Scan
from hub.sdk import SystemClock
from hub.storage.db import create_admin_engine
from hub.storage.tables import FlowCountRow, RedemptionRow
from hub.testing.netfault import LinkProxy
from sandbox.bench_bridge import TOKEN, BenchDriver, hub_for_bench

BRIDGE_ID = "bench-link"


class BenchTimeout(RuntimeError):
    """A condition the bench waits for did not come within its bound."""


async def _until(check: Callable[[], bool], what: str, bound: float) -> float:
    """Seconds until `check()` holds, polled every 5 ms (the resolution of the numbers)."""
    t0 = time.perf_counter()
    while not check():
        if time.perf_counter() - t0 > bound:
            raise BenchTimeout(f"gave up after {bound} s waiting for {what}")
        await asyncio.sleep(0.005)
    return time.perf_counter() - t0


def _summary(values: list[float]) -> dict[str, Any]:
    return {
        "p50": round(statistics.median(values), 3),
        "max": round(max(values), 3),
        "all": [round(v, 3) for v in values],
    }


async def bench_failover(
    cycles: int = 5,
    heartbeat: float = 2.0,
    hub_timeout: float = 10.0,
    failback_after: int = 2,
    db: str = "sqlite",
    bound: float = 120.0,
) -> dict[str, Any]:
    rng = random.Random(16)
    result: dict[str, list[float]] = {
        k: [] for k in ("online", "synced", "failover", "failback", "blackhole", "back_again")
    }
    async with hub_for_bench(db) as (hubs, url):
        port = int(hubs.urls[0].rsplit(":", 1)[1])
        line, four_g = LinkProxy(port), LinkProxy(port)
        await line.start()
        await four_g.start()
        try:
            with tempfile.TemporaryDirectory(prefix="tickethub-failover-bench-") as tmp:
                async with aiohttp.ClientSession() as http:
                    settings = BridgeSettings(
                        hub_urls=[line.url, four_g.url],
                        venue_id="v1",
                        token=TOKEN,
                        db_path=str(Path(tmp) / "bridge.db"),
                        bridge_id=BRIDGE_ID,
                        heartbeat_interval=heartbeat,
                        heartbeat_timeout=min(2.0, heartbeat),
                        hub_timeout=hub_timeout,
                        failback_after=failback_after,
                    )
                    bridge = Bridge(
                        settings, http, clock=SystemClock(), drivers={"bench": BenchDriver()}
                    )
                    await bridge.host.add_device("bench", device_id="bench-gate", gate="main")
                    await bridge.start(sync=True)
                    try:
                        await _cycles(bridge, line, four_g, cycles, rng, heartbeat, bound, result)
                        unsynced = bridge.store.log_counts()["unsynced"]
                        logged = bridge.store.db.execute("SELECT count(*) FROM log").fetchone()[0]
                        switches = len(bridge.link.links.switches)
                    finally:
                        await bridge.stop()
                        bridge.close()
        finally:
            await line.close()
            await four_g.close()
        rows, denied = await _hub_counts(url)
    return {
        "bench": "failover",
        "db": db,
        "cycles": cycles,
        "heartbeat_interval_s": heartbeat,
        "failback_after": failback_after,
        "hub_timeout_s": hub_timeout,
        "hub_back_to_online_s": _summary(result["online"]),
        "hub_back_to_decisions_synced_s": _summary(result["synced"]),
        "failover_refused_to_synced_s": _summary(result["failover"]),
        "failback_s": _summary(result["failback"]),
        "failover_blackhole_to_synced_s": _summary(result["blackhole"]),
        "decisions": int(logged),
        "lost": int(logged) - rows,
        "duplicated": max(0, denied - int(logged)),
        "unsynced_left": unsynced,
        "switches": switches,
        "links": "loopback TCP proxies to one hub process",
    }


async def _cycles(
    bridge: Bridge,
    line: LinkProxy,
    four_g: LinkProxy,
    cycles: int,
    rng: random.Random,
    heartbeat: float,
    bound: float,
    result: dict[str, list[float]],
) -> None:
    state, links, n = bridge.link.state, bridge.link.links, 0

    async def decide() -> None:
        nonlocal n
        n += 1
        scan = Scan(device_id="bench-gate", gate="main", medium=Medium.QR, value=f"P-{n}")
        await bridge.host.decide(scan)

    def synced() -> bool:
        return bridge.store.log_counts()["unsynced"] == 0

    await _until(lambda: state.online and links.active == 0, "online on the line", bound)
    for _ in range(cycles):
        # -- both links dark, then the line comes back ----------------------------------
        line.set_mode("down")
        four_g.set_mode("down")
        await decide()
        await _until(lambda: not state.online, "offline", bound)
        await asyncio.sleep(1.0 + rng.uniform(0, heartbeat))
        line.set_mode("up")
        four_g.set_mode("up")
        t0 = time.perf_counter()
        await _until(lambda: state.online, "online again", bound)
        result["online"].append(time.perf_counter() - t0)
        await _until(synced, "the dark decision synced", bound)
        result["synced"].append(time.perf_counter() - t0)
        await _until(lambda: links.active == 0, "on the line", bound)

        # -- the line refuses: the decision of that instant goes through the 4G router ---
        line.set_mode("down")
        t0 = time.perf_counter()
        await decide()
        await _until(lambda: synced() and links.active == 1, "synced through 4G", bound)
        result["failover"].append(time.perf_counter() - t0)

        # -- the line answers again (anywhere in the heartbeat's phase) --------------------
        await asyncio.sleep(0.5 + rng.uniform(0, heartbeat))
        line.set_mode("up")
        t0 = time.perf_counter()
        await _until(lambda: links.active == 0, "fail-back", bound)
        result["failback"].append(time.perf_counter() - t0)

        # -- the line swallows packets: only the request timeout tells -----------------------
        line.set_mode("blackhole")
        t0 = time.perf_counter()
        await decide()
        await _until(lambda: synced() and links.active == 1, "synced through 4G", bound)
        result["blackhole"].append(time.perf_counter() - t0)
        line.set_mode("up")
        await _until(lambda: links.active == 0, "fail-back", bound)
    await _until(synced, "everything synced", bound)


async def _hub_counts(url: str) -> tuple[int, int]:
    """(redemption rows of the bench's bridge, denied entries the flow counted)."""
    engine = create_admin_engine(url)
    try:
        async with engine.connect() as conn:
            red = RedemptionRow.__table__
            rows = (
                await conn.execute(select(func.count()).where(red.c.bridge == BRIDGE_ID))
            ).scalar_one()
            denied = (await conn.execute(select(func.sum(FlowCountRow.denied)))).scalar() or 0
    finally:
        await engine.dispose()
    return int(rows), int(denied)
