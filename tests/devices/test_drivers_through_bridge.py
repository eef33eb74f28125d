"""The QR-reader, UHPPOTE and MQTT drivers inside the REAL venue bridge (its app, store,
decider and onboarding), with tickets sold by an in-process hub and synced down: each
simulated device admits a sold ticket once, and every decision lands in the bridge's
log and reaches the hub."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hardware_bridge.runtime import Bridge
from hub.clock import ShiftedClock
from plugins.device_mqtt.driver import MqttDriver
from plugins.device_qrhttp.driver import QRHttpDriver
from plugins.device_uhppote.driver import UhppoteDriver
from sandbox.devices.mqtt_gate import MqttGate
from sandbox.devices.qrhttp import CardIdReader
from sandbox.devices.uhppote import SimulatedController
from tests.bridge.conftest import AT, bridge_settings, hub  # noqa: F401  (the hub fixture)
from tests.support import order

READER_TOKEN = "east-reader-secret-0001"
GATE_SECRET = "west-gate-secret-0001"


@dataclass
class Site:
    bridge: Bridge
    base_url: str
    controller: SimulatedController


def _broker_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
async def site(hub: TestClient, tmp_path: Path) -> AsyncIterator[Site]:  # noqa: F811
    controller = SimulatedController(423187757)
    await controller.start()
    address = f"{controller.address[0]}:{controller.address[1]}"
    drivers: dict[str, Any] = {
        "qrhttp": QRHttpDriver(),
        "uhppote": UhppoteDriver(
            bind="127.0.0.1",
            broadcast=address,
            listen="127.0.0.1:0",
            timeout=0.5,
            poll_seconds=0,
        ),
        "mqtt": MqttDriver(),
    }
    async with aiohttp.ClientSession() as http:
        bridge = Bridge(
            bridge_settings(str(hub.make_url("")), tmp_path / "bridge.db"),
            http,
            clock=ShiftedClock(AT),  # real time, moved to the day the tickets are for
            drivers=drivers,
        )
        await bridge.start_drivers()  # drivers mount their routes on the bridge host
        app = web.Application()
        app.router.add_routes(bridge.host.routes.table)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        await bridge.start(sync=False)
        try:
            await bridge.link.pull_config()
            await bridge.link.sync_once()
            yield Site(bridge, str(server.make_url("")).rstrip("/"), controller)
        finally:
            await bridge.stop()
            bridge.close()
            await server.close()
            controller.close()


async def sell(hub: TestClient, key: str) -> dict[str, Any]:  # noqa: F811
    status, body = await order(hub, key, confirm=True)
    assert status == 201, body
    return dict(body["order"]["tickets"][0])


def logged(bridge: Bridge, device: str) -> list[Any]:
    return bridge.store.db.execute(
        "SELECT * FROM log WHERE device = ? ORDER BY n", (device,)
    ).fetchall()


async def test_a_qr_reader_admits_a_sold_ticket_once_through_the_bridge(
    hub: TestClient,  # noqa: F811
    site: Site,
) -> None:
    sold = await sell(hub, "qr-1")
    await site.bridge.link.sync_once()
    await site.bridge.host.add_device(
        "qrhttp",
        device_id="qr-east",
        serial="QR0001",
        gate="east",
        options={"mapping": "cardid", "token": READER_TOKEN},
    )
    async with aiohttp.ClientSession() as http:
        reader = CardIdReader(site.base_url, "QR0001", "east", http, token=READER_TOKEN)
        first = await reader.scan(sold["credential"])
        assert first.opened and reader.relay_opens == 1
        reader.clock_offset += timedelta(seconds=5)
        again = await reader.scan(sold["credential"])
        assert not again.opened and again.answer["status"] == 0
        stranger = CardIdReader(site.base_url, "QR9999", "east", http)
        assert (await stranger.scan(sold["credential"])).http_status == 403
    rows = logged(site.bridge, "qr-east")
    assert [(r["allow"], r["ticket_id"]) for r in rows] == [(1, sold["id"]), (0, sold["id"])]
    await site.bridge.link.sync_once()
    assert site.bridge.store.log_counts()["unsynced"] == 0


async def test_a_uhppote_controller_is_onboarded_holds_the_ticket_and_reports_its_swipe(
    hub: TestClient,  # noqa: F811
    site: Site,
) -> None:
    sold = await sell(hub, "wg-1")
    await site.bridge.link.sync_once()
    address = f"{site.controller.address[0]}:{site.controller.address[1]}"
    added = await site.bridge.host.add_device(
        "uhppote", device_id="wg-1", address=address, gate="north"
    )
    assert added["info"]["serial"] == "423187757" and added["pushed"] >= 1
    card = site.bridge.store.ticket(sold["id"])["card_no"]
    assert card in site.controller.cards  # pushed as a card, dates in the venue's zone
    assert site.controller.listener == site.bridge.host.drivers["uhppote"].listen_address
    assert site.controller.swipe(card)
    driver = site.bridge.host.drivers["uhppote"]
    assert isinstance(driver, UhppoteDriver)
    await driver.catch_up(site.bridge.host.device("wg-1"))  # whatever the push did, once
    rows = logged(site.bridge, "wg-1")
    assert [(r["kind"], r["allow"], r["ticket_id"]) for r in rows] == [("device", 1, sold["id"])]
    assert card not in site.controller.cards  # its one entry is used: taken off the door
    assert not site.controller.swipe(card)
    await site.bridge.link.sync_once()
    assert site.bridge.store.log_counts()["unsynced"] == 0


@pytest.mark.skipif(
    not _broker_up() and os.environ.get("TICKETHUB_REQUIRE_MQTT") != "1",
    reason="no MQTT broker on 127.0.0.1:1883 (TICKETHUB_REQUIRE_MQTT=1 fails instead)",
)
async def test_an_mqtt_gate_with_a_list_decides_offline_and_its_backlog_reaches_the_hub(
    hub: TestClient,  # noqa: F811
    site: Site,
) -> None:
    online_ticket, offline_ticket = await sell(hub, "mq-1"), await sell(hub, "mq-2")
    await site.bridge.link.sync_once()
    prefix = f"th-test-{uuid.uuid4().hex[:10]}/gates"
    serial = f"G{uuid.uuid4().hex[:8]}"
    gate = MqttGate(serial, prefix=prefix, secret=GATE_SECRET)
    await gate.connect()  # the gate is on the venue's broker before staff onboard it
    await site.bridge.host.add_device(
        "mqtt",
        device_id="mq-west",
        serial=serial,
        gate="west",
        options={
            "event_topic": prefix + "/{serial}/event",
            "command_topic": prefix + "/{serial}/command",
            "holds_list": True,
            "secret": GATE_SECRET,
        },
    )
    try:
        for _ in range(500):  # the list pushed at onboarding, through the broker
            if offline_ticket["id"] in gate.entries:
                break
            await asyncio.sleep(0.01)
        assert {online_ticket["id"], offline_ticket["id"]} <= set(gate.entries)
        assert (await gate.scan(online_ticket["credential"])).opened  # asked; clock synced
        await gate.disconnect()
        assert (await gate.scan(offline_ticket["credential"])).opened  # from its own list
        assert not (await gate.scan(offline_ticket["credential"])).opened
        await gate.connect()
        for _ in range(500):
            if not gate.backlog:
                break
            await asyncio.sleep(0.01)
        assert gate.backlog == {}
    finally:
        await gate.close()
    rows = logged(site.bridge, "mq-west")
    assert [(r["kind"], r["allow"], r["ticket_id"]) for r in rows] == [
        ("scan", 1, online_ticket["id"]),
        ("device", 1, offline_ticket["id"]),
        ("device", 0, offline_ticket["id"]),
    ]
    await site.bridge.link.sync_once()
    assert site.bridge.store.log_counts()["unsynced"] == 0
