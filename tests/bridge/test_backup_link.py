"""The backup link: a bridge with two hub URLs (the venue line, a 4G router), each a
`LinkProxy` in front of one real hub app on loopback, that the test cuts and restores.

The sync loop is driven one round at a time (`SyncLoop.step`) with the bridge's clock in
the test's hand: no real-time waits, no timed assertions (speed is `bench failover`'s).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hardware_bridge.runtime import Bridge
from hardware_bridge.settings import BridgeSettings
from hardware_bridge.transport import HubRefused
from hub.clock import FixedClock
from hub.domain.gate import Medium, Scan
from hub.storage.db import create_admin_engine
from hub.storage.tables import RedemptionRow
from hub.testing.netfault import LinkProxy
from tests.bridge.conftest import AT, TOKEN, LoopDriver, bridge_settings
from tests.support import order


class Site:
    """A bridge, its two links and the hub behind both."""

    def __init__(self, bridge: Bridge, line: LinkProxy, four_g: LinkProxy, clock: FixedClock):
        self.bridge = bridge
        self.line = line
        self.four_g = four_g
        self.clock = clock

    async def step(self) -> float:
        return await self.bridge.link.loop.step()

    async def paper(self, n: int, prefix: str) -> None:
        """N decisions at the gate (unknown paper codes: refused, logged, synced)."""
        for i in range(n):
            scan = Scan(device_id="gate-1", gate="north", medium=Medium.QR, value=f"{prefix}{i}")
            await self.bridge.host.decide(scan)

    @property
    def link(self) -> dict[str, Any]:
        return self.bridge.status()["link"]


@pytest.fixture
async def site(hub: TestClient, tmp_path: Path) -> AsyncIterator[Site]:
    assert hub.server.port is not None
    line, four_g = LinkProxy(hub.server.port), LinkProxy(hub.server.port)
    await line.start()
    await four_g.start()
    clock = FixedClock(AT)
    settings = bridge_settings(
        "http://127.0.0.1:1", tmp_path / "bridge.db", hub_urls=[line.url, four_g.url]
    )
    async with aiohttp.ClientSession() as http:
        bridge = Bridge(
            settings, http, clock=clock, drivers={"loop": LoopDriver({"10.0.0.5": "L-5"})}
        )
        await bridge.start_drivers()
        await bridge.start(sync=False)  # the test runs the loop's rounds itself
        await bridge.host.add_device("loop", device_id="gate-1", address="10.0.0.5", gate="n")
        try:
            yield Site(bridge, line, four_g, clock)
        finally:
            await bridge.stop()
            bridge.close()
            await line.close()
            await four_g.close()


async def hub_ids(db_url: str) -> list[str]:
    engine = create_admin_engine(db_url)
    try:
        async with engine.connect() as conn:
            red = RedemptionRow.__table__
            return [r.id for r in (await conn.execute(select(red.c.id))).all()]
    finally:
        await engine.dispose()


def log_ids(bridge: Bridge) -> list[str]:
    return [r["id"] for r in bridge.store.db.execute("SELECT id FROM log")]


async def test_fails_over_to_the_backup_and_back_and_every_decision_arrives_once(
    site: Site, hub: TestClient, sqlite_url: str
) -> None:
    bridge = site.bridge
    interval = bridge.settings.heartbeat_interval
    assert await site.step() == bridge.settings.sync_interval  # online, on the line
    assert bridge.status()["mode"] == "online" and site.link["active"] == 0
    status, sold = await order(hub, "o1", confirm=True)
    assert status == 201, sold
    await site.step()
    qr = sold["order"]["tickets"][0]["credential"]
    assert (
        await bridge.host.decide(Scan(device_id="gate-1", gate="n", medium=Medium.QR, value=qr))
    ).allow
    await site.paper(5, "BEFORE-")

    # the venue line dies in the middle of an upload: the hub recorded it, the answer
    # never came back — the same batch goes again through the 4G router
    site.line.swallow_match = b"/redemptions"
    site.line.set_mode("swallow")
    await site.step()
    assert site.line.swallowed >= 1
    assert bridge.link.state.online  # the backup answered in the same round
    assert site.link["active"] == 1 and site.link["active_url"] == site.four_g.url
    assert bridge.store.log_counts()["unsynced"] == 0
    assert bridge.link.state.duplicates >= 1  # the cut batch really was sent twice
    assert [h[1] for h in bridge.link.state.history] == [True]  # never offline
    line = site.link["urls"][0]
    assert line["last_failure"] == AT.isoformat() and "ServerDisconnected" in line["last_error"]
    assert [(s["kind"], s["from"], s["to"]) for s in site.link["switches"]] == [("fail-over", 0, 1)]

    # on the backup: the line is dead (down), heartbeats find it so, traffic stays
    site.line.set_mode("down")
    await site.paper(5, "ON-4G-")
    site.clock.advance(seconds=interval)
    await site.step()
    assert site.link["active"] == 1 and bridge.store.log_counts()["unsynced"] == 0
    assert site.link["urls"][0]["last_failure"] == site.clock.now().isoformat()

    # the line is back: one heartbeat answered is not enough (failback_after = 2) …
    site.line.set_mode("up")
    site.clock.advance(seconds=interval)
    await site.step()
    assert site.link["active"] == 1
    await site.step()  # … and the probe waits a heartbeat interval of the bridge's clock
    assert site.link["active"] == 1
    site.clock.advance(seconds=interval)
    await site.paper(3, "BACK-")
    await site.step()
    assert site.link["active"] == 0 and site.link["active_url"] == site.line.url
    assert [s["kind"] for s in site.link["switches"]] == ["fail-over", "fail-back"]
    assert bridge.store.log_counts()["unsynced"] == 0
    assert site.link["urls"][0]["last_ok"] == site.clock.now().isoformat()

    ids = await hub_ids(sqlite_url)
    assert sorted(ids) == sorted(log_ids(bridge)) and len(ids) == 14  # each once, none lost


async def test_an_outage_ends_at_the_next_heartbeat_and_the_wait_never_grows(
    site: Site, sqlite_url: str
) -> None:
    bridge = site.bridge
    heartbeat = bridge.settings.heartbeat_interval
    await site.step()  # a bridge starts offline: heartbeats, then the first sync
    answered = bridge.link.state.heartbeats
    site.line.set_mode("down")
    site.four_g.set_mode("down")
    await site.paper(4, "DARK-")
    # the first failed round turns it offline; every round after is one heartbeat apart,
    # however long the outage (the old loop doubled its wait up to 30 s)
    waits = [await site.step() for _ in range(8)]
    assert waits == [heartbeat] * 8
    assert bridge.status()["mode"] == "offline"
    assert "no hub URL answered a heartbeat" in bridge.status()["last_error"]
    assert bridge.link.state.heartbeats == answered

    # the 4G router comes back first: the very next round is online through it
    site.four_g.set_mode("up")
    assert await site.step() == bridge.settings.sync_interval
    assert bridge.status()["mode"] == "online" and site.link["active"] == 1
    assert bridge.link.state.heartbeats == answered + 1  # the 4G router's
    assert bridge.store.log_counts()["unsynced"] == 0

    # a total outage again, then the line comes back alone: online through the line
    site.four_g.set_mode("down")
    await site.step()
    assert bridge.status()["mode"] == "offline"
    site.line.set_mode("up")
    await site.step()
    assert bridge.status()["mode"] == "online" and site.link["active"] == 0
    assert sorted(await hub_ids(sqlite_url)) == sorted(log_ids(bridge))


async def test_a_refusal_is_reported_and_never_hopped_over(hub: TestClient, tmp_path: Path) -> None:
    assert hub.server.port is not None
    line, four_g = LinkProxy(hub.server.port), LinkProxy(hub.server.port)
    await line.start()
    await four_g.start()
    settings = BridgeSettings(
        hub_urls=[line.url, four_g.url],
        venue_id="v1",
        token="not-the-venue-token",
        db_path=str(tmp_path / "bridge.db"),
        bridge_id="b1",
    )
    try:
        async with aiohttp.ClientSession() as http:
            bridge = Bridge(settings, http, clock=FixedClock(AT), drivers={})
            try:
                with pytest.raises(HubRefused, match="refused 401"):
                    await bridge.link.sync_once()
                status = bridge.status()
                assert status["mode"] == "offline" and "refused 401" in status["last_error"]
                assert status["link"]["active"] == 0
                four = status["link"]["urls"][1]
                assert (four["last_ok"], four["last_failure"]) == (None, None)  # never tried
                assert await bridge.link.loop.step() == settings.heartbeat_interval
                assert status["link"]["switches"] == []
            finally:
                bridge.close()
    finally:
        await line.close()
        await four_g.close()


async def test_heartbeat_answers_the_hub_clock_and_needs_the_venue_token(
    hub: TestClient,
) -> None:
    at = (AT - timedelta(seconds=3)).isoformat()
    resp = await hub.post(
        "/api/bridge/venues/v1/heartbeat",
        json={"bridge": "b1", "at": at},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["skew_s"] is not None and body["server_time"]
    resp = await hub.post("/api/bridge/venues/v1/heartbeat", json={"bridge": "b1"})
    assert resp.status == 401


def test_hub_urls_from_the_environment_or_the_single_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("TICKETHUB_BRIDGE_HUB_URL", "http://hub.example:8700")
    assert BridgeSettings().urls() == ["http://hub.example:8700"]
    monkeypatch.setenv(
        "TICKETHUB_BRIDGE_HUB_URLS", "http://10.0.0.1:8700/, http://192.168.8.1:8700"
    )
    assert BridgeSettings().urls() == ["http://10.0.0.1:8700", "http://192.168.8.1:8700"]
    monkeypatch.setenv("TICKETHUB_BRIDGE_HUB_URLS", "http://a:1,10.0.0.2")
    from hub.config import ConfigError

    with pytest.raises(ConfigError, match="TICKETHUB_BRIDGE_HUB_URLS"):
        BridgeSettings()


def test_hub_url_option_is_repeatable_and_splits_on_commas() -> None:
    from hardware_bridge.cli import split_urls

    given = ["http://10.0.0.1:8700", " http://192.168.8.1:8700 ,http://c:1", ""]
    assert split_urls(given) == ["http://10.0.0.1:8700", "http://192.168.8.1:8700", "http://c:1"]
    assert split_urls(None) == []
