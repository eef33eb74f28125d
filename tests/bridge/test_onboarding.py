"""Onboarding and staff operations through the bridge's own HTTP app (what
``tickethub device add/list/remove`` calls): connection test, serial read, duplicates
refused, credentials pushed, health shown; device events recorded once and synced;
manual admissions recorded with who and why; ``/status`` shows online/offline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from typer.testing import CliRunner

from hardware_bridge.app import BRIDGE, create_app
from hardware_bridge.runtime import Bridge
from hardware_bridge.transport import HubUnavailable
from hub.cli import app as cli
from hub.clock import FixedClock
from hub.domain.gate import DeviceEvent, Medium
from hub.storage.tables import RedemptionRow
from tests.bridge.conftest import AT, LoopDriver, bridge_settings
from tests.support import hub_of, order

STAFF = {"Authorization": "Bearer staff-token"}


@pytest.fixture
async def site(hub: TestClient, aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[TestClient]:
    driver = LoopDriver({"10.0.0.5": "LOOP-5", "10.0.0.6": "LOOP-6", "10.0.0.7": "LOOP-5"})
    app = await create_app(
        bridge_settings(str(hub.make_url("")), tmp_path / "b.db", admin_token="staff-token"),
        clock=FixedClock(AT),
        drivers={"loop": driver},
    )
    client = await aiohttp_client(app)
    yield client


def bridge_of(client: TestClient) -> Bridge:
    return client.app[BRIDGE]


async def test_onboarding_through_the_admin_api(hub: TestClient, site: TestClient) -> None:
    status, sold = await order(hub, "o1", quantity=2, confirm=True)
    assert status == 201
    bridge = bridge_of(site)
    await bridge.link.sync_once()
    assert (await site.get("/admin/devices")).status == 401  # staff token required

    body = {"id": "gate-1", "vendor": "loop", "address": "10.0.0.5", "gate": "north"}
    resp = await site.post("/admin/devices", json=body, headers=STAFF)
    added = await resp.json()
    assert resp.status == 201, added
    assert added["info"]["serial"] == "LOOP-5" and added["pushed"] == 2
    assert added["clock_skew_s"] == -3 * 3600  # the device's clock, measured, not trusted
    driver = bridge.host.drivers["loop"]
    assert set(driver.pushed["gate-1"]) == {t["id"] for t in sold["order"]["tickets"]}  # type: ignore[attr-defined]
    assert all(c.card_no for c in driver.pushed["gate-1"].values())  # type: ignore[attr-defined]

    refusals = [
        ({**body}, 409, "DUPLICATE_DEVICE"),
        ({**body, "id": "gate-2", "address": "10.0.0.7"}, 409, "DUPLICATE_SERIAL"),
        ({**body, "id": "gate-3", "address": "10.9.9.9"}, 502, "DEVICE_UNREACHABLE"),
        ({**body, "id": "gate-4", "vendor": "acme"}, 400, "UNKNOWN_VENDOR"),
        ({**body, "id": "gate-5", "address": "10.0.0.6", "serial": "X"}, 409, "SERIAL_MISMATCH"),
        ({"id": "gate-6"}, 422, "INVALID_REQUEST"),  # fields missing: named in details
    ]
    for payload, code, name in refusals:
        resp = await site.post("/admin/devices", json=payload, headers=STAFF)
        assert (resp.status, (await resp.json())["code"]) == (code, name), payload

    # a change at the hub reaches the device's own list on the next sync
    status, more = await order(hub, "o2", confirm=True)
    await bridge.link.sync_once()
    assert more["order"]["tickets"][0]["id"] in driver.pushed["gate-1"]  # type: ignore[attr-defined]

    listed = await (await site.get("/admin/devices", headers=STAFF)).json()
    (device,) = listed["devices"]
    assert device["serial"] == "LOOP-5" and device["health"]["pushed"] == 3
    assert device["health"]["list_version"] == bridge.store.meta("cursor")

    resp = await site.delete("/admin/devices/gate-1", headers=STAFF)
    assert resp.status == 200 and driver.attached == []  # type: ignore[attr-defined]
    assert (await site.delete("/admin/devices/gate-1", headers=STAFF)).status == 404
    # and the serial can be onboarded again, without any restart
    resp = await site.post("/admin/devices", json={**body, "id": "gate-7"}, headers=STAFF)
    assert resp.status == 201


async def test_device_events_once_and_manual_admissions_reach_the_hub(
    hub: TestClient, site: TestClient
) -> None:
    _, sold = await order(hub, "o1", quantity=2, confirm=True)
    bridge = bridge_of(site)
    await bridge.link.sync_once()
    body = {"id": "wg-1", "vendor": "loop", "address": "10.0.0.5", "gate": "west"}
    assert (await site.post("/admin/devices", json=body, headers=STAFF)).status == 201
    first, second = sold["order"]["tickets"]
    card = str(bridge.store.ticket(first["id"])["card_no"])
    event = DeviceEvent(
        device_id="wg-1",
        event_key="1001",
        granted=True,
        medium=Medium.CARD,
        value=card,
        at=AT - timedelta(hours=5),  # a controller whose clock is hours off
    )
    assert await bridge.host.device_event(event) is True
    assert await bridge.host.device_event(event) is False  # catch-up replays it: once
    health = bridge.host.health["wg-1"]
    assert (health.events, health.duplicates, health.event_lag_s) == (1, 1, 5 * 3600)

    resp = await site.post(
        "/admin/manual",
        json={"staff": "li.wei", "reason": "wheelchair gate", "ticket": second["credential"]},
        headers=STAFF,
    )
    assert resp.status == 201
    manual = await resp.json()
    assert manual["ticket_id"] == second["id"]
    resp = await site.post("/admin/manual", json={"staff": "li.wei"}, headers=STAFF)
    assert resp.status == 422  # who AND why (the missing field is named)

    await bridge.link.sync_once()
    status_body = await (await site.get("/status")).json()
    assert status_body["mode"] == "online" and status_body["log"]["unsynced"] == 0
    async with hub_of(hub).engine.connect() as conn:
        rows = (await conn.execute(RedemptionRow.__table__.select())).all()
    got = sorted((r.kind, r.ticket_id, r.staff, r.note, r.counted) for r in rows)
    assert got == sorted(
        [
            ("device", first["id"], "", "", True),
            ("manual", second["id"], "li.wei", "wheelchair gate", True),
        ]
    )
    resp = await hub.get(
        f"/api/boxoffice/orders/{sold['order']['id']}",
        headers={"Authorization": "Bearer test-box"},
    )
    assert (await resp.json())["order"]["state"] == "redeemed"


async def test_status_shows_offline_when_the_hub_is_gone(hub: TestClient, site: TestClient) -> None:
    bridge = bridge_of(site)
    bridge.link.hub_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    with pytest.raises(HubUnavailable, match="Cannot connect"):
        await bridge.link.sync_once()
    status = await (await site.get("/status")).json()
    assert status["mode"] == "offline" and status["last_error"]
    assert status["configured"] is True  # decides from the cached config


async def test_device_commands_onboard_and_list(hub: TestClient, site: TestClient) -> None:
    """`tickethub device add/list/remove` against the running bridge's admin API."""
    url = str(site.make_url("")).rstrip("/")
    common = ["--url", url, "--token", "staff-token"]

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, list(args))

    added = await asyncio.to_thread(
        run, "device", "add", "loop", "--address", "10.0.0.6", "--gate", "south", *common
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["device"]["id"] == "loop-LOOP-6"  # the serial it reports
    dup = await asyncio.to_thread(
        run, "device", "add", "loop", "--address", "10.0.0.6", "--id", "again", *common
    )
    assert dup.exit_code == 1 and "DUPLICATE_SERIAL" in dup.output
    listed = await asyncio.to_thread(run, "device", "list", *common)
    assert listed.exit_code == 0, listed.output
    assert "(venue v1): ONLINE" in listed.output
    assert "loop-LOOP-6" in listed.output and "serial=LOOP-6" in listed.output
    removed = await asyncio.to_thread(run, "device", "remove", "loop-LOOP-6", *common)
    assert removed.exit_code == 0 and bridge_of(site).host.devices() == []
