"""The gates demo's venue: a real venue bridge (its own app, SQLite log and sync loop) in
the demo's process, reaching the demo hub through a link that can be cut, and one
simulated device of each kind, onboarded through the bridge's staff API.

The bridge's clock is real time moved to the busy day at mid-morning (the day the other
channels sold for), so decisions, device clocks and the hub's flow counters all land on
that day; the devices take their time from the bridge at onboarding, as real ones do.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from hardware_bridge.app import BRIDGE, create_app
from hardware_bridge.runtime import Bridge
from hardware_bridge.settings import BridgeSettings
from hub.clock import ShiftedClock
from hub.device_contracts import DeviceDriver
from plugins.device_hikvision.driver import HikvisionDriver
from plugins.device_mqtt.driver import MqttDriver
from plugins.device_qrhttp.driver import QRHttpDriver
from plugins.device_uhppote.driver import UhppoteDriver
from plugins.device_zkteco.driver import ZKTecoDriver
from sandbox.demo.gates_link import VenueLink
from sandbox.demo.seed import TIMEZONE, VENUE
from sandbox.devices.hikvision import HikTerminal
from sandbox.devices.mqtt_gate import MqttGate
from sandbox.devices.qrhttp import CardIdReader
from sandbox.devices.uhppote import SimulatedController
from sandbox.devices.zkteco import ZKDevice

BRIDGE_TOKEN = "demo-bridge-token-huangshan"  # the hub's TICKETHUB_BRIDGE_TOKENS entry
STAFF_TOKEN = "demo-bridge-staff"
READER_TOKEN = "demo-reader-secret-east-0001"  # the QR reader's own, in its configured URL
GATE_SECRET = "demo-gate-secret-cable-0001"  # the MQTT gate's own: it signs what it publishes
OPENING = time(10, 30)  # the bridge's clock: the busy day, mid-morning
MQTT_HOST = os.environ.get("TICKETHUB_MQTT_HOST", "127.0.0.1")  # as the MQTT driver reads
MQTT_PORT = int(os.environ.get("TICKETHUB_MQTT_PORT", "1883"))


class OnboardingFailed(RuntimeError):
    """The bridge's staff API refused a device the demo offered it."""


def broker_reachable() -> bool:
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=0.5):
            return True
    except OSError:
        return False


def mqtt_required() -> bool:
    return os.environ.get("TICKETHUB_REQUIRE_MQTT") == "1"


@dataclass
class Devices:
    reader: CardIdReader
    controller: SimulatedController
    terminal: HikTerminal
    zk: ZKDevice
    gate: MqttGate | None  # None: no broker on 127.0.0.1:1883


@dataclass
class Venue:
    """Everything `start_venue` started; `close` stops it in reverse."""

    link: VenueLink
    runner: web.AppRunner
    bridge: Bridge
    url: str
    http: aiohttp.ClientSession
    devices: Devices
    onboarded: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def status(self) -> dict[str, Any]:
        """The bridge's ``/status`` over HTTP, as staff see it."""
        async with self.http.get(f"{self.url}/status") as resp:
            return dict(await resp.json())

    async def onboard(self, vendor: str, device_id: str, gate: str, **body: Any) -> None:
        """POST ``/admin/devices``: probe, serial, attach, credentials pushed."""
        doc = {"id": device_id, "vendor": vendor, "gate": gate, **body}
        headers = {"Authorization": f"Bearer {STAFF_TOKEN}"}
        async with self.http.post(f"{self.url}/admin/devices", json=doc, headers=headers) as r:
            answer = await r.json(content_type=None)
            if r.status != 201:
                raise OnboardingFailed(f"{vendor} {device_id}: HTTP {r.status} {answer}")
        self.onboarded[device_id] = dict(answer)

    async def close(self) -> None:
        d = self.devices
        if d.gate is not None:
            await d.gate.close()
        await d.terminal.close()
        d.controller.close()
        await self.runner.cleanup()  # the bridge stops its sync loop and drivers
        await self.link.close()


def bridge_clock(day: date) -> ShiftedClock:
    return ShiftedClock(datetime.combine(day, OPENING, ZoneInfo(TIMEZONE)))


async def start_venue(
    hub_port: int, day: date, db_path: Path, http: aiohttp.ClientSession
) -> Venue:
    """Start the link, the bridge (synced once) and the simulated devices; onboard none yet.
    Whatever started is stopped again if a later part fails to start."""
    async with contextlib.AsyncExitStack() as undo:
        link = VenueLink(hub_port)
        await link.start()
        undo.push_async_callback(link.close)
        controller = SimulatedController(423187757)
        address = await controller.start()
        undo.callback(controller.close)
        with_mqtt = broker_reachable() or mqtt_required()
        drivers: dict[str, DeviceDriver] = {
            "qrhttp": QRHttpDriver(),
            "uhppote": UhppoteDriver(
                bind="127.0.0.1",
                broadcast=address,
                listen="127.0.0.1:0",
                timeout=0.5,
                poll_seconds=0,
            ),
            "hikvision": HikvisionDriver(),
            "zkteco": ZKTecoDriver(),
        }
        if with_mqtt:
            drivers["mqtt"] = MqttDriver()
        settings = BridgeSettings(
            hub_url=link.url,
            venue_id=VENUE,
            token=BRIDGE_TOKEN,
            bridge_id="huangshan-east",
            db_path=str(db_path),
            admin_token=STAFF_TOKEN,
            sync_interval=0.1,
            synchronous="NORMAL",
        )
        app = await create_app(settings, clock=bridge_clock(day), drivers=drivers)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()  # the bridge attaches its devices and syncs once here
        undo.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        bridge = app[BRIDGE]
        terminal = HikTerminal()
        undo.push_async_callback(terminal.close)
        await terminal.start()
        gate = MqttGate(
            f"G{uuid.uuid4().hex[:8]}",
            prefix=f"th-demo-{uuid.uuid4().hex[:8]}/gates",  # a run of its own on a shared broker
            hostname=MQTT_HOST,
            port=MQTT_PORT,
            secret=GATE_SECRET,
        )
        devices = Devices(
            reader=CardIdReader(url, "QR-HS-0001", "east", http, token=READER_TOKEN),
            controller=controller,
            terminal=terminal,
            zk=ZKDevice("CKJ2231001", url, http, now=bridge.clock.now),
            gate=gate if with_mqtt else None,
        )
        venue = Venue(link, runner, bridge, url, http, devices)
        undo.pop_all()  # started: from here on `Venue.close` stops it
        return venue
    raise AssertionError("unreachable")  # the exit stack re-raises any failure above


async def onboard_all(venue: Venue) -> None:
    """One device of each kind, each through the bridge's onboarding API."""
    d = venue.devices
    options = {"mapping": "cardid", "token": READER_TOKEN}  # its dialect, and its secret
    await venue.onboard("qrhttp", "qr-east", "east", serial=d.reader.serial, options=options)
    address = f"{d.controller.address[0]}:{d.controller.address[1]}"
    await venue.onboard("uhppote", "wg-north", "north", address=address)
    await venue.onboard(
        "hikvision",
        "hik-south",
        "south",
        address=d.terminal.base_url,
        serial=d.terminal.serial,
        options={"user": d.terminal.user, "password": d.terminal.password, "event_url": venue.url},
    )
    await d.zk.hello()  # a push device makes itself known first (refused until onboarded)
    # onboarded with the address it connects from: the same serial from elsewhere is refused
    await venue.onboard("zkteco", "zk-west", "west", serial=d.zk.serial, address="127.0.0.1")
    await d.zk.sync()  # it collects its users on its next polls, a batch each
    for _ in range(50):
        if not await d.zk.poll():
            break
    if d.gate is not None:
        try:
            await d.gate.connect()
        except Exception as exc:  # only reached with TICKETHUB_REQUIRE_MQTT=1
            raise OnboardingFailed(
                f"MQTT broker {MQTT_HOST}:{MQTT_PORT} not reachable and TICKETHUB_REQUIRE_MQTT=1"
            ) from exc
        await venue.onboard(
            "mqtt",
            "mq-cable",
            "cable",
            serial=d.gate.serial,
            options={
                "event_topic": d.gate.prefix + "/{serial}/event",
                "command_topic": d.gate.prefix + "/{serial}/command",
                "holds_list": True,
                "secret": GATE_SECRET,
            },
        )
