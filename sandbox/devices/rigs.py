"""The built-in device drivers as the device conformance kit drives them: one `DeviceRig`
per vendor, each with a `SimulatedDevice` around this folder's simulator of that vendor.

What "offline", "settled" and "forged" mean is each protocol's own: a Hikvision terminal
whose event host is unreachable and the driver's catch-up by search; a ZKTeco terminal
that cannot reach the bridge and uploads its log later; a UHPPOTE controller that does
not answer and is read back by event index; an MQTT gate off its broker publishing its
backlog on return. See `hub.testing.conformance.devices` for the checks.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import unittest
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp

from hub.device_contracts import DeviceConfig, DeviceDriver
from hub.domain.gate import Medium
from hub.testing.conformance.devices import DeviceRig, SimulatedDevice
from hub.testing.device_host import RecordingHost
from plugins.device_hikvision.auth import event_credentials
from plugins.device_hikvision.driver import HikvisionDriver
from plugins.device_mqtt.driver import MqttDriver
from plugins.device_qrhttp.driver import QRHttpDriver
from plugins.device_uhppote.driver import UhppoteDriver
from plugins.device_zkteco.driver import ZKTecoDriver
from sandbox.devices.hikvision import HikTerminal
from sandbox.devices.mqtt_gate import MqttGate
from sandbox.devices.qrhttp import CardIdReader
from sandbox.devices.uhppote import EVENT_CARD, IN, REASON_SWIPE, Event, SimulatedController
from sandbox.devices.zkteco import ZKDevice

UNREACHABLE = "http://127.0.0.1:9/unreachable"


async def until(condition: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    """Wait for the network or another task; bounded, never timed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.01)


# -- HTTP QR readers ------------------------------------------------------------------


class QRReaderDevice(SimulatedDevice):
    token = "kit-reader-secret-000001"

    async def start(self, host: RecordingHost, driver: DeviceDriver) -> None:
        self.host = host
        self.reader = CardIdReader(host.base_url, "QRKIT1", "east", host.http, token=self.token)

    async def close(self) -> None:
        return None

    def config(self) -> DeviceConfig:
        return DeviceConfig(
            id="qr-kit",
            vendor="qrhttp",
            serial="QRKIT1",
            gate="east",
            options={"mapping": "cardid", "token": self.token},
        )

    def unservable(self) -> DeviceConfig:
        return DeviceConfig(id="qr-kit", vendor="qrhttp", serial="QRKIT1", options={"token": "x"})

    async def present(self, value: str) -> bool:
        return (await self.reader.scan(value)).opened

    async def forge(self, value: str) -> None:
        """The reader's scan URL without its secret, and with a guessed one."""
        for token in ("", "guessed-reader-secret-01"):
            impostor = CardIdReader(self.host.base_url, "QRKIT1", "east", self.host.http)
            impostor.token = token
            out = await impostor.scan(value)
            assert not out.opened, out


class QRHttpRig(DeviceRig):
    vendor = "qrhttp"
    plugin = "device_qrhttp"
    medium = Medium.QR
    no_offline = "a reader asks the bridge for every scan and stays shut without it"

    def driver(self) -> DeviceDriver:
        return QRHttpDriver()

    def device(self) -> SimulatedDevice:
        return QRReaderDevice()


# -- Hikvision ISAPI terminals ----------------------------------------------------------


class HikvisionDevice(SimulatedDevice):
    async def start(self, host: RecordingHost, driver: DeviceDriver) -> None:
        assert isinstance(driver, HikvisionDriver)
        self.host, self.driver = host, driver
        self.terminal = HikTerminal()
        await self.terminal.start()
        self.event_host = ""

    async def close(self) -> None:
        await self.terminal.close()

    def config(self) -> DeviceConfig:
        t = self.terminal
        return DeviceConfig(
            id="hik-kit",
            vendor="hikvision",
            address=t.base_url,
            serial=t.serial,
            gate="east",
            options={"user": t.user, "password": t.password},
        )

    def unservable(self) -> DeviceConfig:
        c = self.config()
        return DeviceConfig(c.id, c.vendor, c.address, c.serial, c.gate, {"user": "admin"})

    async def present(self, value: str) -> bool:
        return await self.terminal.present_card(value)

    async def go_offline(self) -> None:
        self.event_host = self.terminal.http_host
        self.terminal.http_host = UNREACHABLE

    async def come_back(self) -> None:
        if self.event_host:
            self.terminal.http_host = self.event_host
        await self.driver.catch_up(self.config())

    async def forge(self, value: str) -> None:
        """A granted card event posted to the terminal's event URL: without its Digest
        answer, and with its password from another address."""
        body = json.dumps(
            {
                "eventType": "AccessControllerEvent",
                "dateTime": datetime.now(UTC).isoformat(timespec="seconds"),
                "AccessControllerEvent": {
                    "majorEventType": 5,
                    "subEventType": 1,
                    "cardNo": value,
                    "serialNo": 900,
                    "cardReaderNo": 1,
                },
            }
        ).encode()
        url = self.terminal.http_host
        async with self.host.http.post(url, data=body) as resp:
            assert resp.status == 401, resp.status
        signed = aiohttp.DigestAuthMiddleware(*event_credentials(self.config()))
        away = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with (
            aiohttp.ClientSession(connector=away) as other,
            other.post(url, data=body, middlewares=(signed,)) as resp,
        ):
            assert resp.status == 403, resp.status


class HikvisionRig(DeviceRig):
    vendor = "hikvision"
    plugin = "device_hikvision"

    def driver(self) -> DeviceDriver:
        return HikvisionDriver()

    def device(self) -> SimulatedDevice:
        return HikvisionDevice()


# -- ZKTeco push terminals --------------------------------------------------------------


class ZKTecoDevice(SimulatedDevice):
    serial = "CKJKIT1"

    async def start(self, host: RecordingHost, driver: DeviceDriver) -> None:
        self.host = host
        self.zk = ZKDevice(self.serial, host.base_url, host.http)
        assert not await self.zk.hello()  # seen, refused until onboarded

    async def close(self) -> None:
        return None

    def config(self) -> DeviceConfig:
        return DeviceConfig(
            id="zk-kit", vendor="zkteco", serial=self.serial, gate="north", address="127.0.0.1"
        )

    def unservable(self) -> DeviceConfig:
        return DeviceConfig(id="zk-kit", vendor="zkteco", serial=self.serial, gate="north")

    async def present(self, value: str) -> bool:
        return self.zk.present(value)

    async def settle(self) -> None:
        await self.zk.sync()  # hello, run the queued commands, upload the log

    async def go_offline(self) -> None:
        self.zk.online = False

    async def come_back(self) -> None:
        self.zk.online = True
        self.zk.acknowledged = 0  # as if the bridge's "OK" was lost: everything again
        await self.zk.sync()

    async def forge(self, value: str) -> None:
        """The terminal's serial (printed on it, sent in clear) from another address."""
        away = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=away) as other:
            impostor = ZKDevice(self.serial, self.host.base_url, other)
            impostor.log.append(
                f"time={self.zk.local_now():%Y-%m-%d %H:%M:%S}\tpin={value}\tcardno={value}"
                "\tevent=0\tverifytype=4\tindex=1"
            )
            assert await impostor.upload() == 0


class ZKTecoRig(DeviceRig):
    vendor = "zkteco"
    plugin = "device_zkteco"

    def driver(self) -> DeviceDriver:
        return ZKTecoDriver()

    def device(self) -> SimulatedDevice:
        return ZKTecoDevice()


# -- UHPPOTE access controllers ---------------------------------------------------------


class UhppoteDevice(SimulatedDevice):
    serial = 423187757

    async def start(self, host: RecordingHost, driver: DeviceDriver) -> None:
        assert isinstance(driver, UhppoteDriver)
        self.driver = driver
        self.controller = SimulatedController(self.serial)
        await self.controller.start()

    async def close(self) -> None:
        self.controller.close()

    def config(self) -> DeviceConfig:
        ip, port = self.controller.address
        return DeviceConfig(
            id="wg-kit",
            vendor="uhppote",
            address=f"{ip}:{port}",
            serial=str(self.serial),
            gate="north",
        )

    def unservable(self) -> DeviceConfig:
        return DeviceConfig(id="wg-kit", vendor="uhppote", serial="ABC")

    async def present(self, value: str) -> bool:
        return self.controller.swipe(int(value))

    async def settle(self) -> None:
        await self.driver.catch_up(self.config())  # every event the controller logged

    async def go_offline(self) -> None:
        self.controller.online = False  # it goes on deciding; nobody hears it

    async def come_back(self) -> None:
        self.controller.online = True
        await self.driver.catch_up(self.config())

    async def forge(self, value: str) -> None:
        """A granted swipe in the controller's own layout, serial and address, at an
        index its log does not hold (UDP has no authentication)."""
        assert self.driver.listen_address is not None
        index = len(self.controller.events) + 1
        invented = Event(
            index, EVENT_CARD, True, 1, IN, int(value), self.controller.local_now(), REASON_SWIPE
        )
        packet = bytes(self.controller._status_packet(0x20, invented))
        before = self.driver.status("wg-kit")["forged"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(packet, self.driver.listen_address)
        await until(lambda: self.driver.status("wg-kit")["forged"] > before, "forged dropped")


class UhppoteRig(DeviceRig):
    vendor = "uhppote"
    plugin = "device_uhppote"

    def driver(self) -> DeviceDriver:
        return UhppoteDriver(
            bind="127.0.0.1",
            broadcast="127.0.0.1:9",
            listen="127.0.0.1:0",
            timeout=1.5,  # loopback answers at once; generous for a loaded machine
            poll_seconds=0,
        )

    def device(self) -> SimulatedDevice:
        return UhppoteDevice()


# -- MQTT gates -------------------------------------------------------------------------


def broker_up(host: str = "127.0.0.1", port: int = 1883) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class MqttGateDevice(SimulatedDevice):
    secret = "kit-gate-secret-000001"

    async def start(self, host: RecordingHost, driver: DeviceDriver) -> None:
        if not broker_up():
            if os.environ.get("TICKETHUB_REQUIRE_MQTT") == "1":
                raise AssertionError("the MQTT broker on 127.0.0.1:1883 is required")
            # pytest reports unittest's SkipTest as a skip (sandbox/ does not import pytest)
            raise unittest.SkipTest(
                "no MQTT broker on 127.0.0.1:1883 (TICKETHUB_REQUIRE_MQTT=1 fails)"
            )
        assert isinstance(driver, MqttDriver)
        self.driver = driver
        self.prefix = f"th-kit-{uuid.uuid4().hex[:10]}/gates"
        self.serial = f"G{uuid.uuid4().hex[:8]}"
        self.gate = MqttGate(
            self.serial, prefix=self.prefix, secret=self.secret, answer_timeout=5.0
        )
        await self.gate.connect()
        self.acknowledged: list[dict[str, object]] = []
        self.resent = 0

    async def close(self) -> None:
        await self.gate.close()

    def config(self) -> DeviceConfig:
        return DeviceConfig(
            id="mq-kit",
            vendor="mqtt",
            serial=self.serial,
            gate="west",
            options={
                "event_topic": self.prefix + "/{serial}/event",
                "command_topic": self.prefix + "/{serial}/command",
                "holds_list": True,
                "secret": self.secret,
            },
        )

    def unservable(self) -> DeviceConfig:
        c = self.config()
        return DeviceConfig(
            c.id, c.vendor, c.address, c.serial, c.gate, {**c.options, "secret": "short"}
        )

    def _status(self) -> dict[str, object]:
        return self.driver.status("mq-kit")

    async def present(self, value: str) -> bool:
        return (await self.gate.scan(value)).opened

    async def settle(self) -> None:
        await until(
            lambda: self.gate.list_version == self._status()["list_version"], "list applied"
        )
        await until(lambda: not self.gate.backlog, "backlog acknowledged")
        await until(lambda: self._status()["duplicates"] == self.resent, "re-sends seen")

    async def go_offline(self) -> None:
        await self.gate.disconnect()

    async def come_back(self) -> None:
        if self.gate.online:  # already back: re-send what was acknowledged (a lost ack)
            for record in self.acknowledged:
                await self.gate.publish_raw(json.dumps(record))
                self.resent += 1
            return
        self.acknowledged = [dict(r) for r in self.gate.backlog.values()]
        await self.gate.connect()

    async def forge(self, value: str) -> None:
        """A "granted" record and an ask on the gate's topic, unsigned and wrongly signed
        (the broker lets anyone publish there)."""
        now = int(datetime.now(UTC).timestamp() * 1000)
        before = self._status()["forged"]
        for n, sig in enumerate((None, "0" * 64)):
            doc: dict[str, object] = {
                "msgId": f"forged-{n}",
                "code": value,
                "codeType": "qr",
                "ts": now,
                "dir": "in",
                "result": 1,
            }
            if sig:
                doc["sig"] = sig
            await self.gate.publish_raw(json.dumps(doc), sign=False)
        await until(lambda: self._status()["forged"] == before + 2, "forgeries dropped")  # type: ignore[operator]


class MqttRig(DeviceRig):
    vendor = "mqtt"
    plugin = "device_mqtt"
    medium = Medium.QR

    def driver(self) -> DeviceDriver:
        return MqttDriver()

    def device(self) -> SimulatedDevice:
        return MqttGateDevice()
