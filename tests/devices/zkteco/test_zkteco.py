"""ZKTeco push terminals: the driver against a simulated device over real HTTP."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from hub.sdk import DeviceConfig, DeviceError, GateCredential
from hub.testing.device_host import RecordingHost, running_host
from plugins.device_zkteco.driver import ZKTecoDriver
from sandbox.devices.zkteco import ZKDevice

GATE = DeviceConfig(
    id="zk-1", vendor="zkteco", serial="CKJ2231", gate="north", address="127.0.0.1"
)


def cred(card: int, *, revoked: bool = False, hours: int = 12) -> GateCredential:
    return GateCredential(
        ticket_id=f"t{card}",
        valid_from=datetime.now(UTC) - timedelta(hours=1),
        valid_until=datetime.now(UTC) + timedelta(hours=hours),
        card_no=card,
        name="王小明",
        revoked=revoked,
    )


async def onboarded(host: RecordingHost, driver: ZKTecoDriver) -> ZKDevice:
    host.add(GATE)
    await driver.attach(GATE)
    device = ZKDevice(GATE.serial, host.base_url, host.http)
    assert await device.hello()
    return device


async def test_unknown_serials_are_refused_and_probe_needs_a_hello() -> None:
    driver = ZKTecoDriver()
    async with running_host([driver]) as host:
        with pytest.raises(DeviceError, match="has not contacted"):
            await driver.probe(GATE)
        stranger = ZKDevice(GATE.serial, host.base_url, host.http)
        assert not await stranger.hello() and stranger.refused
        host.add(GATE)
        info = await driver.probe(GATE)  # it said hello (refused) moments ago
        assert info.serial == GATE.serial and info.firmware == "2.4.1"
        assert await stranger.hello() and stranger.options["ErrorDelay"] == "60"


async def test_without_a_serial_the_probe_reads_it_from_the_device_waiting() -> None:
    driver = ZKTecoDriver()
    async with running_host([driver]) as host:
        blank = DeviceConfig(id="new", vendor="zkteco", gate="north", address="127.0.0.1")
        first = ZKDevice("CKJ2231", host.base_url, host.http)
        assert not await first.hello()  # not onboarded yet: refused, but seen
        assert (await driver.probe(blank)).serial == "CKJ2231"
        second = ZKDevice("CKJ9876", host.base_url, host.http)
        assert not await second.hello()
        with pytest.raises(DeviceError, match=r"2 ZKTeco devices .*CKJ2231, CKJ9876"):
            await driver.probe(blank)
        host.add(dataclasses.replace(GATE, serial="CKJ2231"))  # the first one onboarded
        assert (await driver.probe(blank)).serial == "CKJ9876"


async def test_pushed_tickets_become_users_with_validity_and_revocations_delete() -> None:
    driver = ZKTecoDriver()
    async with running_host([driver]) as host:
        device = await onboarded(host, driver)
        await driver.push_credentials(GATE, [cred(1001), cred(1002)])
        assert await device.poll() == 2
        assert set(device.users) == {"1001", "1002"} and device.users["1001"].name == "王小明"
        assert driver.status("zk-1")["pending_commands"] == 0
        await driver.push_credentials(GATE, [cred(1002, revoked=True)])
        await device.poll()
        assert set(device.users) == {"1001"}
        await driver.open_door(GATE)
        await device.poll()
        assert device.door_opens == 1


async def test_decisions_taken_offline_arrive_once_when_the_device_is_back() -> None:
    driver = ZKTecoDriver()
    async with running_host([driver]) as host:
        device = await onboarded(host, driver)
        await driver.push_credentials(GATE, [cred(1001), cred(1003, hours=-1)])
        await device.poll()
        assert device.present("1001")
        assert await device.upload() == 1
        device.online = False  # the bridge is unreachable: the door still decides
        assert device.present("1001")
        assert not device.present("9999")  # unknown card
        assert not device.present("1003")  # expired window
        assert (await device.sync())["uploaded"] == 0
        device.online = True
        assert (await device.sync())["uploaded"] == 3
        device.acknowledged = 0  # the device lost our "OK" and sends everything again
        assert await device.upload() == 4
        events = sorted(host.events.values(), key=lambda e: e.event_key)
        assert len(events) == 4 and host.duplicates == 4
        assert [e.granted for e in events] == [True, True, False, False]
        assert {e.gate for e in events} == {"north"} and events[0].value == "1001"


async def test_malformed_lines_are_skipped_and_a_wrong_device_clock_is_kept_not_trusted() -> None:
    driver = ZKTecoDriver()
    async with running_host([driver]) as host:
        device = await onboarded(host, driver)
        device.skew = timedelta(hours=5)
        device.log.append("garbage without fields")
        device.log.append("time=not-a-time\tpin=1\tevent=0")
        device.present("1001")
        assert await device.upload() == 3  # the device's batch is taken whole
        (event,) = host.events.values()
        assert not event.granted  # never pushed: the device refused it itself
        skew = (event.at - datetime.now(UTC)).total_seconds()
        assert 5 * 3600 - 120 < skew <= 5 * 3600 + 1  # the device's own (wrong) time, kept
        assert driver.states[GATE.serial].rejected_lines == 2
        resp = await host.http.post(
            f"{host.base_url}/iclock/cdata",
            params={"SN": GATE.serial, "table": "rtlog"},
            data="time=2026-11-22 10:00:00\tpin=\xd5\xc5\tevent=0".encode("latin-1"),
        )
        assert resp.status == 200 and (await resp.text()).startswith("OK")


async def test_a_device_claiming_an_onboarded_serial_from_another_address_is_refused() -> None:
    """The serial is printed on the device and sent in clear: from any address but the
    onboarded one it gets nothing — no handshake, no commands (the ticket list), and
    its "granted" log lines are not taken."""
    driver = ZKTecoDriver()
    async with running_host([driver]) as host:
        device = await onboarded(host, driver)
        await driver.push_credentials(GATE, [cred(1001)])
        away = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=away) as other:
            impostor = ZKDevice(GATE.serial, host.base_url, other)
            assert not await impostor.hello() and impostor.refused
            assert await impostor.poll() == 0 and impostor.users == {}  # no list leaked
            impostor.log.append(
                "time=2026-11-22 10:00:00\tpin=1001\tcardno=1001\tevent=0\tindex=1"
            )
            assert await impostor.upload() == 0
        assert host.events == {} and driver.status("zk-1")["forged"] == 3
        # the device itself, from its own address, still gets its list and is heard
        assert await device.poll() == 1 and device.present("1001")
        assert await device.upload() == 1
        assert [e.value for e in host.granted_events()] == ["1001"]


async def test_onboarding_needs_the_address_the_device_said_hello_from() -> None:
    driver = ZKTecoDriver()
    async with running_host([driver]) as host:
        assert not await ZKDevice(GATE.serial, host.base_url, host.http).hello()
        with pytest.raises(DeviceError, match="enter the IP address"):
            await driver.probe(dataclasses.replace(GATE, address=""))
        with pytest.raises(DeviceError, match=r"said hello from 127\.0\.0\.1, not 127\.0\.0\.3"):
            await driver.probe(dataclasses.replace(GATE, address="127.0.0.3"))
        assert (await driver.probe(GATE)).serial == GATE.serial
