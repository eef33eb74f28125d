"""THE OUTAGE TEST: a real hub process behind a link the test cuts.

Hub unreachable → the bridge keeps deciding from its cache (a ticket sold after the last
sync opens from its signed QR) → the hub process dies and comes back on another port →
the first upload is cut after the hub committed it → the link is back → every decision
reaches the hub exactly once (rows counted on both sides)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import func, select

from hardware_bridge.runtime import Bridge
from hub.clock import FixedClock
from hub.domain.gate import Medium, Scan
from hub.storage.db import create_admin_engine
from hub.storage.tables import FlowCountRow, RedemptionRow, TicketRow
from hub.testing.processes import HubAdmin, HubProcesses
from tests.bridge.conftest import TOKEN, LoopDriver, bridge_settings

TZ = ZoneInfo("Asia/Shanghai")


async def wait_until(check: Callable[[], bool], what: str, bound: float = 60.0) -> None:
    """Poll a condition (a bound against hanging, not a speed assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        await asyncio.sleep(0.05)


async def _seed(admin: HubAdmin, day: str) -> None:
    await admin.put_venue("v1", "Outage Mountain")
    await admin.put_product(
        "adult",
        {"venue_id": "v1", "name": "Adult", "pool": "main", "prices": [{"amount": 100}]},
    )
    await admin.put_inventory("main", day, day, [("", 100)])


async def _sell(http: aiohttp.ClientSession, url: str, token: str, key: str, day: str) -> Any:
    async with http.post(
        url + "/api/boxoffice/orders",
        json={
            "travel_date": day,
            "lines": [{"product_id": "adult", "quantity": 1}],
            "confirm": True,
        },
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    ) as resp:
        body = await resp.json()
        assert resp.status == 201, body
        return body["order"]["tickets"][0]


async def test_outage_every_decision_reaches_the_hub_exactly_once(
    db_url: str, tmp_path: Path
) -> None:
    from tests.bridge.netfault import LinkProxy

    day = (datetime.now(TZ) + timedelta(days=1)).date()
    at = datetime.combine(day, time(10, 0), TZ).astimezone(UTC)
    env = {"TICKETHUB_BRIDGE_TOKENS": f'{{"v1": "{TOKEN}"}}', "TICKETHUB_OUTBOX_WORKERS": "0"}
    hubs = HubProcesses(db_url, env=env)
    await hubs.start()
    proxy = LinkProxy(int(hubs.urls[0].rsplit(":", 1)[1]))
    await proxy.start()
    try:
        async with aiohttp.ClientSession() as http:
            admin = HubAdmin(http, hubs.urls[0], hubs.admin_token)
            await _seed(admin, day.isoformat())
            before = await _sell(http, hubs.urls[0], hubs.boxoffice_token, "pre", day.isoformat())

            bridge = Bridge(
                bridge_settings(proxy.url, tmp_path / "bridge.db", sync_interval=0.1),
                http,
                clock=FixedClock(at),
                drivers={"loop": LoopDriver({"10.0.0.5": "LOOP-5"})},
            )
            await bridge.start_drivers()
            await bridge.start(sync=True)
            try:
                await bridge.host.add_device(
                    "loop", device_id="gate-1", address="10.0.0.5", gate="north"
                )
                assert bridge.status()["mode"] == "online"
                assert bridge.store.ticket(before["id"]) is not None

                # -- the link goes down ------------------------------------------------
                proxy.set_mode("down")
                await wait_until(lambda: not bridge.link.state.online, "bridge offline")
                assert bridge.status()["mode"] == "offline"
                during = await _sell(
                    http, hubs.urls[0], hubs.boxoffice_token, "during", day.isoformat()
                )
                assert bridge.store.ticket(during["id"]) is None  # never synced

                def scan(value: str) -> Scan:
                    return Scan(device_id="gate-1", gate="north", medium=Medium.QR, value=value)

                decisions = [
                    await bridge.host.decide(scan(v))
                    for v in (
                        before["credential"],
                        before["credential"],
                        during["credential"],
                        during["credential"],
                        "TH1.forged",
                    )
                ]
                assert [d.allow for d in decisions] == [True, False, True, False, False]
                assert all(d.offline for d in decisions)
                for n in range(40):  # a queue at the gate: unknown paper codes
                    assert not (await bridge.host.decide(scan(f"PAPER-{n}"))).allow

                # -- the hub process dies and comes back elsewhere ----------------------
                await hubs.stop()
                hubs = HubProcesses(db_url, env=env)
                await hubs.start()
                proxy.target_port = int(hubs.urls[0].rsplit(":", 1)[1])

                # -- the first upload is cut after the hub committed it -----------------
                proxy.swallow_match = b"/redemptions"  # heartbeats pass, the upload does not
                proxy.set_mode("swallow")
                bridge.link.retry_now()
                await wait_until(lambda: proxy.swallowed >= 1, "an answer swallowed")
                proxy.set_mode("up")
                await wait_until(
                    lambda: bridge.link.state.online and bridge.store.log_counts()["unsynced"] == 0,
                    "everything synced",
                )
            finally:
                await bridge.stop()
            log_ids = {r["id"] for r in bridge.store.db.execute("SELECT id FROM log")}
            assert len(log_ids) == 45
            assert bridge.link.state.duplicates >= 1  # the cut upload was really re-sent
            bridge.close()
    finally:
        await proxy.close()
        await hubs.stop()

    engine = create_admin_engine(db_url)
    try:
        async with engine.connect() as conn:
            red = RedemptionRow.__table__
            ids = [r.id for r in (await conn.execute(select(red.c.id))).all()]
            assert sorted(ids) == sorted(log_ids)  # each decision once, none lost
            tix = TicketRow.__table__
            used = {r.id: r.entries_used for r in await conn.execute(select(tix))}
            assert used == {before["id"]: 1, during["id"]: 1}
            flow = (await conn.execute(select(FlowCountRow.__table__))).one()
            assert (flow.entries, flow.exits, flow.denied, flow.conflicts) == (2, 0, 43, 0)
            offline = (
                await conn.execute(select(func.count()).where(red.c.offline.is_(True)))
            ).scalar_one()
            assert offline == 45
    finally:
        await engine.dispose()
