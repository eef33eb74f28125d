"""A device's "granted" report counts only for a credential the bridge pushed to that
device — through the REAL bridge and hub, each list-keeping device speaking its own
(authenticated) protocol.

The case: a visitor's ticket the bridge learnt after its last push (here: its signed QR
read at an exit, sold after the last sync) — valid, redeemable at the hub, never pushed
to any device. Somebody enrols its number on a device by hand (the device's own admin
screen: a list the bridge does not control) and presents it. The device really admits
and really reports it, authenticated; the bridge refuses the report (``FORGED_EVENT``)
and the hub never sees the ticket used. The ticket the bridge did push still counts."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from hardware_bridge.runtime import Bridge
from hub.clock import ShiftedClock
from hub.domain.gate import Direction, Medium, Scan
from hub.storage.tables import TicketRow
from plugins.device_hikvision.driver import HikvisionDriver
from plugins.device_mqtt.driver import MqttDriver
from plugins.device_uhppote.driver import UhppoteDriver
from plugins.device_zkteco.driver import ZKTecoDriver
from sandbox.devices.hikvision import HikTerminal, Person
from sandbox.devices.mqtt_gate import ListEntry, MqttGate
from sandbox.devices.uhppote import Card, SimulatedController
from sandbox.devices.zkteco import User, ZKDevice
from tests.bridge.conftest import AT, bridge_settings, hub  # noqa: F401  (the hub fixture)
from tests.support import hub_of, order


@dataclass
class Site:
    bridge: Bridge
    base_url: str
    http: aiohttp.ClientSession
    controller: SimulatedController


@pytest.fixture
async def site(hub: TestClient, tmp_path: Path) -> AsyncIterator[Site]:  # noqa: F811
    controller = SimulatedController(423187757)
    await controller.start()
    address = f"{controller.address[0]}:{controller.address[1]}"
    drivers: dict[str, Any] = {
        "hikvision": HikvisionDriver(),
        "zkteco": ZKTecoDriver(),
        "uhppote": UhppoteDriver(
            bind="127.0.0.1", broadcast=address, listen="127.0.0.1:0", timeout=0.5, poll_seconds=0
        ),
        "mqtt": MqttDriver(),
    }
    async with aiohttp.ClientSession() as http:
        bridge = Bridge(
            bridge_settings(str(hub.make_url("")), tmp_path / "bridge.db"),
            http,
            clock=ShiftedClock(AT),
            drivers=drivers,
        )
        await bridge.start_drivers()
        app = web.Application()
        app.router.add_routes(bridge.host.routes.table)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        await bridge.start(sync=False)
        try:
            await bridge.link.pull_config()
            await bridge.link.sync_once()
            yield Site(bridge, str(server.make_url("")).rstrip("/"), http, controller)
        finally:
            await bridge.stop()
            bridge.close()
            await server.close()
            controller.close()


@dataclass
class Tickets:
    pushed: dict[str, Any]  # synced before the device was onboarded: pushed to it
    unpushed: dict[str, Any]  # sold after the last sync, known from its QR at an exit
    pushed_card: int
    unpushed_card: int


async def sell(hub: TestClient, key: str) -> dict[str, Any]:  # noqa: F811
    status, body = await order(hub, key, confirm=True)
    assert status == 201, body
    return dict(body["order"]["tickets"][0])


async def tickets(hub: TestClient, site: Site, device_id: str) -> Tickets:  # noqa: F811
    """`pushed` is on the device (onboarded before this); `unpushed` is cached by the
    bridge from its signed QR read at an exit (leaving is never refused, counts nothing)
    after the last sync and push."""
    pushed = await sell(hub, f"{device_id}-pushed")
    await site.bridge.link.sync_once()  # pushed to the device after the sync
    unpushed = await sell(hub, f"{device_id}-unpushed")
    exit_scan = Scan(
        device_id=device_id,
        gate="exit",
        medium=Medium.QR,
        value=unpushed["credential"],
        direction=Direction.OUT,
    )
    assert (await site.bridge.host.decide(exit_scan)).allow
    store = site.bridge.store
    return Tickets(
        pushed,
        unpushed,
        int(store.ticket(pushed["id"])["card_no"]),
        int(store.ticket(unpushed["id"])["card_no"]),
    )


async def add_hikvision(site: Site, terminal: HikTerminal, device_id: str) -> None:
    """Onboard the simulated terminal at the south gate, its events posted to the bridge."""
    await site.bridge.host.add_device(
        "hikvision",
        device_id=device_id,
        address=terminal.base_url,
        gate="south",
        options={
            "user": terminal.user,
            "password": terminal.password,
            "event_url": site.base_url,
        },
    )


async def assert_only_the_pushed_ticket_was_used(
    hub: TestClient,  # noqa: F811
    site: Site,
    device_id: str,
    t: Tickets,
) -> None:
    rows = site.bridge.store.db.execute(
        "SELECT ticket_id, allow, code FROM log WHERE kind = 'device' AND device = ? ORDER BY n",
        (device_id,),
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        (t.unpushed["id"], 0, "FORGED_EVENT"),
        (t.pushed["id"], 1, ""),
    ]
    assert site.bridge.host.health[device_id].forged == 1
    await site.bridge.link.sync_once()
    assert site.bridge.store.log_counts()["unsynced"] == 0
    async with hub_of(hub).engine.connect() as conn:
        used = dict((await conn.execute(select(TicketRow.id, TicketRow.entries_used))).all())
    assert used[t.pushed["id"]] == 1
    assert used[t.unpushed["id"]] == 0  # the hand-enrolled ticket was never used


async def test_a_hikvision_terminal_s_admission_of_a_hand_enrolled_person_counts_nothing(
    hub: TestClient,  # noqa: F811
    site: Site,
) -> None:
    terminal = HikTerminal()
    await terminal.start()
    try:
        await add_hikvision(site, terminal, "hik-1")
        t = await tickets(hub, site, "hik-1")
        local = terminal.local_now()
        enrolled = str(t.unpushed_card)
        terminal.persons[enrolled] = Person(
            enrolled, "by hand", local - timedelta(days=1), local + timedelta(days=2), {enrolled}
        )
        assert await terminal.present_card(enrolled)  # the terminal really opens
        assert await terminal.present_card(str(t.pushed_card))
        await assert_only_the_pushed_ticket_was_used(hub, site, "hik-1", t)
    finally:
        await terminal.close()


async def test_a_zkteco_device_s_admission_of_a_hand_enrolled_user_counts_nothing(
    hub: TestClient,  # noqa: F811
    site: Site,
) -> None:
    device = ZKDevice("CKJ2231001", site.base_url, site.http, now=site.bridge.clock.now)
    assert not await device.hello()  # makes itself known (refused until onboarded)
    await site.bridge.host.add_device(
        "zkteco", device_id="zk-1", serial=device.serial, address="127.0.0.1", gate="west"
    )
    t = await tickets(hub, site, "zk-1")
    await device.sync()
    while await device.poll():  # it collects its users
        pass
    enrolled = str(t.unpushed_card)
    device.users[enrolled] = User(enrolled, "by hand", enrolled, None, None)
    assert device.present(enrolled)
    assert device.present(str(t.pushed_card))
    assert await device.upload() == 2
    await assert_only_the_pushed_ticket_was_used(hub, site, "zk-1", t)


async def test_a_uhppote_controller_s_admission_of_a_hand_added_card_counts_nothing(
    hub: TestClient,  # noqa: F811
    site: Site,
) -> None:
    address = f"{site.controller.address[0]}:{site.controller.address[1]}"
    await site.bridge.host.add_device("uhppote", device_id="wg-1", address=address, gate="n")
    t = await tickets(hub, site, "wg-1")
    today = site.controller.local_now().date()
    site.controller.cards[t.unpushed_card] = Card(
        t.unpushed_card, today - timedelta(days=1), today + timedelta(days=1), (1, 1, 1, 1)
    )
    assert site.controller.swipe(t.unpushed_card)
    assert site.controller.swipe(t.pushed_card)
    driver = site.bridge.host.drivers["uhppote"]
    assert isinstance(driver, UhppoteDriver)
    await driver.catch_up(site.bridge.host.device("wg-1"))  # whatever the pushes did, once
    await assert_only_the_pushed_ticket_was_used(hub, site, "wg-1", t)


def _broker_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(
    not _broker_up() and os.environ.get("TICKETHUB_REQUIRE_MQTT") != "1",
    reason="no MQTT broker on 127.0.0.1:1883 (TICKETHUB_REQUIRE_MQTT=1 fails instead)",
)
async def test_an_mqtt_gate_s_own_admission_of_a_hand_listed_code_counts_nothing(
    hub: TestClient,  # noqa: F811
    site: Site,
) -> None:
    prefix = f"th-test-{uuid.uuid4().hex[:10]}/gates"
    serial = f"G{uuid.uuid4().hex[:8]}"
    secret = "forged-test-gate-secret-01"
    gate = MqttGate(serial, prefix=prefix, secret=secret)
    await gate.connect()
    try:
        await site.bridge.host.add_device(
            "mqtt",
            device_id="mq-1",
            serial=serial,
            gate="cable",
            options={
                "event_topic": prefix + "/{serial}/event",
                "command_topic": prefix + "/{serial}/command",
                "holds_list": True,
                "secret": secret,
            },
        )
        t = await tickets(hub, site, "mq-1")
        for _ in range(500):  # the list pushed after the sync, through the broker
            if t.pushed["id"] in gate.entries:
                break
            await asyncio.sleep(0.01)
        assert t.pushed["id"] in gate.entries
        gate.clock_offset = site.bridge.clock.now() - datetime.now(UTC)  # as a verdict syncs it
        now = gate.now()
        gate.entries[t.unpushed["id"]] = ListEntry(
            t.unpushed["id"],
            [t.unpushed["credential"]],
            now - timedelta(hours=1),
            now + timedelta(days=1),
            1,
        )
        await gate.disconnect()  # decides by itself from its list
        assert (await gate.scan(t.unpushed["credential"])).opened
        assert (await gate.scan(t.pushed["credential"])).opened
        await gate.connect()  # its backlog, signed, reaches the bridge
        for _ in range(500):
            if not gate.backlog:
                break
            await asyncio.sleep(0.01)
        assert gate.backlog == {}
        await assert_only_the_pushed_ticket_was_used(hub, site, "mq-1", t)
    finally:
        await gate.close()


async def test_a_granted_event_posted_by_anyone_but_the_terminal_redeems_nothing(
    hub: TestClient,  # noqa: F811
    site: Site,
) -> None:
    """The reported hole: anyone on the venue LAN posted a Hikvision "granted" event for
    a visitor's card and the hub marked the order redeemed."""
    terminal = HikTerminal()
    await terminal.start()
    try:
        await add_hikvision(site, terminal, "hik-2")
        t = await tickets(hub, site, "hik-2")
        forged = {
            "eventType": "AccessControllerEvent",
            "dateTime": datetime.now(UTC).isoformat(timespec="seconds"),
            "AccessControllerEvent": {
                "majorEventType": 5,
                "subEventType": 1,
                "cardNo": str(t.pushed_card),
                "serialNo": 1,
                "cardReaderNo": 1,
            },
        }
        async with site.http.post(terminal.http_host, json=forged) as resp:
            assert resp.status == 401
        await site.bridge.link.sync_once()
        async with hub_of(hub).engine.connect() as conn:
            used = (
                await conn.execute(
                    select(TicketRow.entries_used).where(TicketRow.id == t.pushed["id"])
                )
            ).scalar_one()
        assert used == 0 and site.bridge.store.log_counts()["admitted"] == 1  # the exit only
        assert await terminal.present_card(str(t.pushed_card))  # the visitor, at the gate
        await site.bridge.link.sync_once()
        async with hub_of(hub).engine.connect() as conn:
            used = (
                await conn.execute(
                    select(TicketRow.entries_used).where(TicketRow.id == t.pushed["id"])
                )
            ).scalar_one()
        assert used == 1
    finally:
        await terminal.close()
