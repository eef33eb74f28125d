"""The in-park ceiling (``venue.max_in_park``): a gate refuses entry with ``PARK_FULL``
when the park is full and admits again once someone leaves — with the bridge synced to
the hub and with the hub unreachable — on SQLite and PostgreSQL; several bridges of one
venue never together admit beyond it; staff correct the count (admin API, bridge CLI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from typer.testing import CliRunner

from hardware_bridge.cli import bridge_app
from hardware_bridge.runtime import Bridge
from hardware_bridge.transport import HubUnavailable
from hub.clock import FixedClock
from hub.domain.gate import Direction, Medium, Scan
from tests.bridge.conftest import AT, TOKEN, LoopDriver, bridge_settings
from tests.support import ADMIN, hub_client, order, put, seed

DEAD = "http://127.0.0.1:9"  # nothing listens: the hub is unreachable


async def ceiling_hub(aiohttp_client: Any, db_url: str, maximum: int) -> TestClient:
    client = await hub_client(
        aiohttp_client, db_url, clock=FixedClock(AT), bridge_tokens={"v1": TOKEN}
    )
    await seed(client)
    await put(client, "/api/admin/venues/v1", {"name": "Test Mountain", "max_in_park": maximum})
    return client


async def tickets(hub: TestClient, key: str, n: int) -> list[str]:
    status, body = await order(hub, key, quantity=n, confirm=True)
    assert status == 201, body
    return [t["credential"] for t in body["order"]["tickets"]]


@asynccontextmanager
async def running(hub: TestClient, db: Path, bridge_id: str) -> AsyncIterator[Bridge]:
    async with aiohttp.ClientSession() as http:
        b = Bridge(
            bridge_settings(str(hub.make_url("")), db, bridge_id=bridge_id),
            http,
            clock=FixedClock(AT),
            drivers={"loop": LoopDriver({"10.0.0.5": "LOOP-0005"})},
        )
        await b.start_drivers()
        await b.start(sync=False)
        await b.link.pull_config()
        await b.link.sync_once()
        await b.host.add_device("loop", device_id="gate-1", address="10.0.0.5", gate="north")
        try:
            yield b
        finally:
            await b.stop()
            b.close()


async def walk(b: Bridge, qr: str, direction: Direction = Direction.IN) -> Any:
    return await b.host.decide(
        Scan(device_id="gate-1", gate="north", medium=Medium.QR, value=qr, direction=direction)
    )


async def test_online_full_park_refuses_then_admits_after_an_exit(
    aiohttp_client: Any, db_url: str, tmp_path: Path
) -> None:
    hub = await ceiling_hub(aiohttp_client, db_url, maximum=2)
    a, b, c = await tickets(hub, "three", 3)
    async with running(hub, tmp_path / "b1.db", "b1") as bridge:
        assert (await walk(bridge, a)).allow and (await walk(bridge, b)).allow
        await bridge.link.sync_once()  # the hub counts 2 inside; no room is granted
        full = await walk(bridge, c)
        assert (full.allow, full.code, full.offline) == (False, "PARK_FULL", False)
        assert "园区人数已满" in full.reason
        assert (await walk(bridge, a, Direction.OUT)).allow  # leaving is never refused
        await bridge.link.sync_once()
        assert (await walk(bridge, c)).allow  # the place a left
        await bridge.link.sync_once()
        flow = await hub.get("/api/admin/flow?venue=v1&date=2026-11-23", headers=ADMIN)
        assert (await flow.json())["in_park"] == 2
        assert bridge.link.ceiling.status()["room_left"] == 0


async def test_offline_bridge_counts_itself(
    aiohttp_client: Any, db_url: str, tmp_path: Path
) -> None:
    hub = await ceiling_hub(aiohttp_client, db_url, maximum=2)
    a, b, c, d = await tickets(hub, "four", 4)
    async with running(hub, tmp_path / "b1.db", "b1") as bridge:
        bridge.link.hub_url = DEAD
        with suppress(HubUnavailable):
            await bridge.link.sync_once()
        assert not bridge.link.state.online
        assert (await walk(bridge, a)).allow and (await walk(bridge, b)).allow
        full = await walk(bridge, c)
        assert (full.allow, full.code, full.offline) == (False, "PARK_FULL", True)
        assert (await walk(bridge, b, Direction.OUT)).allow
        admitted = await walk(bridge, c)
        assert admitted.allow and admitted.offline
        # staff counted 2 inside (a and c) and then one who came in by hand: 3 > 2
        runner = CliRunner()
        result = runner.invoke(bridge_app, ["count", "--set", "2", "--db", str(tmp_path / "b1.db")])
        assert result.exit_code == 0, result.output
        assert '"room_left": 0' in result.output
        assert (await walk(bridge, d)).code == "PARK_FULL"
        # the hub is back: it hears the offline decisions and answers the venue's count
        bridge.link.hub_url = str(hub.make_url(""))
        await bridge.link.sync_once()
        assert bridge.link.ceiling.status()["hub_in_park"] == 2


async def test_two_bridges_never_together_pass_the_ceiling(
    aiohttp_client: Any, db_url: str, tmp_path: Path
) -> None:
    hub = await ceiling_hub(aiohttp_client, db_url, maximum=3)
    qrs = await tickets(hub, "six", 6)
    async with (
        running(hub, tmp_path / "b1.db", "b1") as one,
        running(hub, tmp_path / "b2.db", "b2") as two,
    ):
        await one.link.sync_once()
        await two.link.sync_once()
        # both go offline with their last shares: together at most 3 inside
        for b in (one, two):
            b.link.hub_url = DEAD
        admitted = 0
        for i, qr in enumerate(qrs):
            decision = await walk(one if i % 2 == 0 else two, qr)
            admitted += decision.allow
            assert decision.allow or decision.code == "PARK_FULL"
        assert 1 <= admitted <= 3
        shares = [b.link.ceiling.status()["share"] for b in (one, two)]
        assert sum(shares) <= 3 and all(s >= 1 for s in shares), shares


async def test_staff_correct_the_count_through_the_admin_api(
    aiohttp_client: Any, db_url: str, tmp_path: Path
) -> None:
    hub = await ceiling_hub(aiohttp_client, db_url, maximum=5)
    a, b = await tickets(hub, "two", 2)
    async with running(hub, tmp_path / "b1.db", "b1") as bridge:
        assert (await walk(bridge, a)).allow
        resp = await hub.put("/api/admin/venues/v1/in-park", json={"count": 5}, headers=ADMIN)
        body = await resp.json()
        assert resp.status == 200 and body["in_park"] == 5, body
        await bridge.link.sync_once()  # picks the correction up
        assert (await walk(bridge, b)).code == "PARK_FULL"
        bad = await hub.put("/api/admin/venues/v1/in-park", json={"count": -1}, headers=ADMIN)
        assert bad.status == 422
        unknown = await hub.put("/api/admin/venues/nope/in-park", json={"count": 1}, headers=ADMIN)
        assert unknown.status == 404
