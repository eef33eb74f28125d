"""Device and bridge health at the hub (SQLite and PostgreSQL): a bridge serving a
simulated UHPPOTE controller reports it with every sync round and heartbeat; the
controller going silent shows offline at the hub with the next report and opens
``device_offline`` once it has been offline for the rule's seconds (the hub's clock moved
by hand); it coming back clears it. The bridge's own ``/metrics`` shows the same."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from hardware_bridge.app import BRIDGE, create_app
from hardware_bridge.runtime import Bridge
from hub.clock import FixedClock
from plugins.device_uhppote.driver import UhppoteDriver
from sandbox.devices.uhppote import SimulatedController
from tests.bridge.conftest import AT, TOKEN, bridge_settings
from tests.support import ADMIN, T0, hub_client, hub_of, order, seed

SERIAL = 423187757


@dataclass
class Site:
    hub: TestClient
    hub_clock: FixedClock
    bridge_http: TestClient
    bridge: Bridge
    bridge_clock: FixedClock
    controller: SimulatedController

    async def devices(self) -> list[dict[str, Any]]:
        resp = await self.hub.get("/api/admin/devices?venue=v1", headers=ADMIN)
        assert resp.status == 200, await resp.text()
        return list((await resp.json())["devices"])

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        resp = await self.bridge_http.get("/metrics")
        assert resp.status == 200
        text = await resp.text()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def next_check(self) -> None:
        """The bridge's clock past its device-check interval."""
        self.bridge_clock.advance(seconds=self.bridge.settings.device_check_seconds)


@pytest.fixture
async def site(aiohttp_client: Any, db_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    hub_clock = FixedClock(T0)
    hub = await hub_client(
        aiohttp_client,
        db_url,
        clock=hub_clock,
        bridge_tokens={"v1": TOKEN},
        alert_eval_seconds=0,  # the test evaluates by hand
    )
    await seed(hub)
    controller = SimulatedController(SERIAL)
    address = await controller.start()
    bridge_clock = FixedClock(AT)
    driver = UhppoteDriver(
        bind="127.0.0.1", broadcast=address, listen="127.0.0.1:0", timeout=0.3, poll_seconds=0
    )
    settings = bridge_settings(
        str(hub.make_url("")), tmp_path / "bridge.db", admin_token="bridge-admin-test"
    )
    app = await create_app(settings, clock=bridge_clock, drivers={"uhppote": driver}, sync=False)
    try:
        bridge_http = await aiohttp_client(app)
        bridge = app[BRIDGE]
        status, sold = await order(hub, "health-1", confirm=True)
        assert status == 201, sold
        await bridge.link.pull_config()
        await bridge.link.sync_once()
        await bridge.host.add_device(
            "uhppote", device_id="wg-east", address=address, serial=str(SERIAL), gate="east"
        )
        yield Site(hub, hub_clock, bridge_http, bridge, bridge_clock, controller)
    finally:
        controller.close()


async def test_a_device_going_offline_shows_at_the_hub_and_opens_device_offline(
    site: Site,
) -> None:
    hub = hub_of(site.hub)
    resp = await site.hub.post(
        "/api/admin/alerts/rules",
        json={
            "name": "east gate",
            "kind": "device_offline",
            "params": {"venue_id": "v1"},
            "open_at": 60,
            "clear_below": 1,
        },
        headers=ADMIN,
    )
    assert resp.status == 201, await resp.text()

    await site.bridge.link.sync_once()  # a sync round reports the health
    [device] = await site.devices()
    assert device["id"] == "wg-east" and device["online"] is True
    assert (device["vendor"], device["gate"], device["bridge"]) == ("uhppote", "east", "b1")
    assert device["list_version"] == site.bridge.store.meta("cursor") != ""
    assert device["last_seen"] == AT.isoformat() and device["offline_since"] is None
    resp = await site.hub.get("/api/admin/bridges", headers=ADMIN)
    [bridge] = (await resp.json())["bridges"]
    assert bridge["bridge"] == "b1" and bridge["link"] == str(site.hub.make_url("")).rstrip("/")
    assert bridge["link_index"] == 0 and bridge["pending_uploads"] == 0
    assert bridge["clock_skew_s"] == (T0 - AT).total_seconds()  # the bridge's clock is a day on
    assert [d["id"] for d in bridge["devices"]] == ["wg-east"]
    metrics = await site.metrics()
    labels = (("device", "wg-east"), ("gate", "east"), ("vendor", "uhppote"))
    assert metrics[("tickethub_bridge_device_online", labels)] == 1.0
    assert metrics[("tickethub_bridge_device_list_version", labels)] > 0
    assert metrics[("tickethub_bridge_pending_uploads", ())] == 0.0
    url = str(site.hub.make_url("")).rstrip("/")
    assert metrics[("tickethub_bridge_link_active", (("index", "0"), ("url", url)))] == 1.0
    assert metrics[("tickethub_bridge_sync_round_seconds_count", ())] >= 2

    # the controller stops answering: the next heartbeat says so, the rule waits N s
    site.controller.online = False
    site.next_check()
    assert await site.bridge.link.heartbeat(0) == "up"
    [device] = await site.devices()
    assert device["online"] is False and "did not answer" in device["last_error"]
    assert device["offline_since"] == T0.isoformat()
    assert await hub.alerts.evaluate_now() == []
    site.hub_clock.advance(seconds=59)
    await site.bridge.link.sync_once()  # still offline: offline_since does not move
    assert (await site.devices())[0]["offline_since"] == T0.isoformat()
    assert await hub.alerts.evaluate_now() == []
    site.hub_clock.advance(seconds=1)
    [opened] = await hub.alerts.evaluate_now()
    assert (opened.rule, opened.transition, opened.value) == ("east gate", "opened", 60)
    metrics = await site.metrics()
    assert metrics[("tickethub_bridge_device_online", labels)] == 0.0

    # back: the next round reports it online and the alert resolves
    site.controller.online = True
    site.next_check()
    await site.bridge.link.sync_once()
    [device] = await site.devices()
    assert device["online"] is True and device["last_error"] == ""
    assert device["offline_since"] is None
    [resolved] = await hub.alerts.evaluate_now()
    assert resolved.transition == "resolved"
    assert (await site.metrics())[("tickethub_bridge_device_online", labels)] == 1.0


async def test_a_removed_device_leaves_the_hub_with_the_next_report(site: Site) -> None:
    await site.bridge.link.sync_once()
    assert [d["id"] for d in await site.devices()] == ["wg-east"]
    assert await site.bridge.host.remove_device("wg-east")
    await site.bridge.link.sync_once()
    assert await site.devices() == []
    resp = await site.hub.get("/api/admin/devices", headers={"Authorization": "Bearer nope"})
    assert resp.status == 401
