"""MQTT gates: the driver and simulated gates through the REAL Mosquitto broker on
127.0.0.1:1883. Every test uses its own topic prefix and serials, so tests running in
parallel (or a second checkout on the same machine) never see each other's messages.

Without a broker these tests skip with the reason; CI sets ``TICKETHUB_REQUIRE_MQTT=1``
to make a missing broker a failure instead."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from hub.sdk import DeviceConfig, DeviceDriver, DeviceError, GateCredential, Medium
from hub.sdk.registries import DeviceDriverRegistry
from hub.testing.device_host import RecordingHost, running_host
from hub.testing.processes import free_port
from plugins.device_mqtt.driver import MqttDriver
from sandbox.devices.mqtt_gate import MqttGate

BROKER = ("127.0.0.1", 1883)
NOW = datetime.now(UTC)
ID_NUMBER = "11010119900307123X"
SECRET = "gate-secret-0001-abcdef"  # shared by the bridge and the gate at onboarding
MOSQUITTO = shutil.which("mosquitto") or next(
    (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
)


def _broker_up() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def broker() -> None:
    if _broker_up():
        return
    if os.environ.get("TICKETHUB_REQUIRE_MQTT") == "1":
        pytest.fail("the Mosquitto broker on 127.0.0.1:1883 is required (TICKETHUB_REQUIRE_MQTT=1)")
    pytest.skip("no MQTT broker on 127.0.0.1:1883 (set TICKETHUB_REQUIRE_MQTT=1 to fail instead)")


@dataclass
class Rig:
    host: RecordingHost
    driver: MqttDriver
    device: DeviceConfig
    gate: MqttGate
    prefix: str


@asynccontextmanager
async def rig(*, holds_list: bool = True, answer_timeout: float = 5.0) -> AsyncIterator[Rig]:
    prefix = f"th-test-{uuid.uuid4().hex[:10]}/gates"
    serial = f"G{uuid.uuid4().hex[:8]}"
    device = DeviceConfig(
        id="mq-1",
        vendor="mqtt",
        serial=serial,
        gate="west",
        options={
            "event_topic": prefix + "/{serial}/event",
            "command_topic": prefix + "/{serial}/command",
            "holds_list": holds_list,
            "secret": SECRET,
        },
    )
    driver = MqttDriver()
    async with running_host([driver]) as host:
        host.add(device)
        await driver.probe(device)
        await driver.attach(device)
        gate = MqttGate(
            serial,
            prefix=prefix,
            holds_list=holds_list,
            answer_timeout=answer_timeout,
            secret=SECRET,
        )
        await gate.connect()
        try:
            yield Rig(host, driver, device, gate, prefix)
        finally:
            await gate.close()


async def until(condition: Callable[[], bool], what: str, limit: float = 5.0) -> None:
    """Wait for the broker to deliver; bounded, never timed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.01)


def ticket(
    name: str,
    *,
    qr: str | None = None,
    card: int | None = None,
    entries: int = 1,
    revoked: bool = False,
    id_number: str | None = None,
) -> GateCredential:
    return GateCredential(
        ticket_id=name,
        valid_from=NOW - timedelta(hours=1),
        valid_until=NOW + timedelta(hours=8),
        entries_allowed=entries,
        qr=qr,
        card_no=card,
        id_number=id_number,
        revoked=revoked,
    )


async def test_the_entry_point_registers_the_driver() -> None:
    (entry,) = [e for e in entry_points(group="tickethub") if e.name == "device_mqtt"]
    registry = DeviceDriverRegistry()
    entry.load().register_device_drivers(registry=registry)
    assert isinstance(MqttDriver(), DeviceDriver)  # the Protocol the bridge drives
    assert registry.get("mqtt") is MqttDriver


async def test_online_scans_are_decided_by_the_bridge_and_answered_on_the_command_topic() -> None:
    async with rig(holds_list=False) as r:
        r.host.valid["TH1.ok"] = 1
        r.gate.clock_offset = timedelta(hours=-4)
        first = await r.gate.scan("TH1.ok")
        assert first.asked and first.opened and first.text == "Welcome"
        scan, decision = r.host.scans[0]
        assert (scan.device_id, scan.gate, scan.medium, scan.value) == (
            "mq-1",
            "west",
            Medium.QR,
            "TH1.ok",
        )
        assert decision.allow and scan.at is not None
        assert abs(r.gate.clock_offset) < timedelta(minutes=1)  # resynced from serverTime
        skew = r.driver.status("mq-1")["clock_skew_seconds"]
        assert -4 * 3600 - 60 < skew < -4 * 3600 + 60
        again = await r.gate.scan("TH1.ok")
        assert again.asked and not again.opened and again.text == "Not valid"
        assert r.gate.relay_opens == 1 and r.driver.status("mq-1")["scans"] == 2


async def test_a_redelivered_scan_gets_the_same_verdict_without_a_second_decision() -> None:
    async with rig(holds_list=False) as r:
        r.host.valid["TH1.once"] = 1
        assert (await r.gate.scan("TH1.once")).opened
        await r.gate.publish_raw(json.dumps(r.gate.last_request))  # QoS 1 redelivery
        await until(lambda: r.driver.status("mq-1")["duplicates"] == 1, "the replay seen")
        assert len(r.host.scans) == 1 and r.host.valid["TH1.once"] == 0


async def test_list_updates_reach_a_gate_that_holds_a_list_even_after_it_was_offline() -> None:
    async with rig() as r:
        await r.driver.push_credentials(
            r.device,
            [
                ticket("t1", qr="TH1.a"),
                ticket("t2", card=3003, entries=2),
                ticket("t3", qr="x", revoked=True),
            ],
        )
        await until(lambda: r.gate.list_version == 1, "first list")
        assert set(r.gate.entries) == {"t1", "t2"} and r.gate.entries["t2"].codes == ["3003"]
        assert r.gate.entries["t2"].entries == 2
        await r.gate.disconnect()
        await r.driver.push_credentials(
            r.device, [ticket("t4", qr="TH1.late"), ticket("t1", qr="TH1.a", revoked=True)]
        )
        assert r.gate.list_version == 1  # the gate is offline
        await r.gate.connect()  # persistent session: the broker kept the update
        await until(lambda: r.gate.list_version == 2, "update delivered on reconnect")
        assert set(r.gate.entries) == {"t2", "t4"}
        assert r.driver.status("mq-1")["list_version"] == 2


async def test_id_numbers_reach_only_gates_configured_for_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with rig() as r:
        await r.driver.push_credentials(r.device, [ticket("t1", qr="TH1.a", id_number=ID_NUMBER)])
        await until(lambda: r.gate.list_version == 1, "list")
        assert r.gate.entries["t1"].codes == ["TH1.a"]
        r.host.valid[ID_NUMBER] = 1
        with caplog.at_level(logging.DEBUG, logger="plugins.device_mqtt"):
            out = await r.gate.scan(ID_NUMBER, kind="idcard")
        assert out.opened and r.host.scans[0][0].medium is Medium.ID_CARD
        assert ID_NUMBER not in caplog.text and "1101**********123X" in caplog.text


async def test_a_gate_offline_decides_from_its_list_and_its_backlog_lands_once() -> None:
    async with rig() as r:
        await r.driver.push_credentials(
            r.device, [ticket("t1", qr="TH1.a"), ticket("t2", card=77, entries=2)]
        )
        await until(lambda: r.gate.list_version == 1, "list")
        await r.gate.disconnect()  # the gate's link is down: it goes on deciding
        assert (await r.gate.scan("TH1.a")).opened
        assert not (await r.gate.scan("TH1.a")).opened  # its one entry is used
        assert (await r.gate.scan("77", kind="card")).opened
        assert not (await r.gate.scan("TH1.forged")).opened
        assert len(r.gate.backlog) == 4 and r.host.events == {}
        sent = dict(next(iter(r.gate.backlog.values())))
        await r.gate.connect()
        await until(lambda: not r.gate.backlog, "every record acknowledged")
        events = sorted(r.host.events.values(), key=lambda e: e.event_key)
        assert [(e.value, e.granted) for e in events] == [
            ("TH1.a", True),
            ("TH1.a", False),
            ("77", True),
            ("TH1.forged", False),
        ]
        assert events[2].medium is Medium.CARD and events[0].gate == "west"
        await r.gate.publish_raw(json.dumps(sent))  # a record re-sent after its ack was lost
        await until(lambda: r.driver.status("mq-1")["duplicates"] == 1, "re-send recognised")
        assert len(r.host.events) == 4 and r.host.duplicates == 1


async def test_a_gate_without_a_list_stays_shut_offline_and_queues_nothing() -> None:
    async with rig(holds_list=False) as r:
        r.host.valid["TH1.ok"] = 1
        await r.gate.disconnect()
        out = await r.gate.scan("TH1.ok")
        assert not out.opened and not out.asked and r.gate.backlog == {}
        await r.gate.connect()
        assert (await r.gate.scan("TH1.ok")).opened


async def test_when_the_bridge_is_silent_the_gate_decides_and_reports_when_it_is_back() -> None:
    async with rig(answer_timeout=0.3) as r:
        await r.driver.push_credentials(r.device, [ticket("t1", qr="TH1.a")])
        await until(lambda: r.gate.list_version == 1, "list")
        await r.driver.stop()  # the bridge process is down; the broker and the gate are up
        out = await r.gate.scan("TH1.a")
        assert out.opened and not out.asked and len(r.gate.backlog) == 1
        back = MqttDriver()
        await back.start(r.host)
        try:
            await back.attach(r.device)
            await r.gate.flush()
            await until(lambda: not r.gate.backlog, "acknowledged by the new bridge")
            assert [e.value for e in r.host.events.values()] == ["TH1.a"]
        finally:
            await back.stop()


async def test_bad_messages_and_unknown_gates_are_dropped_and_the_gate_is_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with rig(holds_list=False) as r:
        r.host.valid["TH1.ok"] = 1
        for bad in (
            b"not json",
            b"[1,2]",
            b"\xff\xfe",
            b"{" + b" " * 20_000 + b"}",
            json.dumps({"code": "TH1.ok"}).encode(),
        ):
            await r.gate.publish_raw(bad)
        verdict: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        r.gate._waiting["bad-1"] = verdict
        await r.gate.publish_raw(json.dumps({"msgId": "bad-1", "code": ""}))
        answer = await asyncio.wait_for(verdict, 5)
        assert answer["pass"] == 0 and answer["text"] == "Invalid scan"
        await r.gate.publish_raw(
            json.dumps({"msgId": "x", "code": "TH1.ok"}), topic=f"{r.prefix}/STRANGER/event"
        )
        await until(lambda: r.driver.unknown == 1 and r.driver.malformed == 6, "all seen")
        assert r.host.scans == [] and "unknown gate 'STRANGER'" in caplog.text
        assert (await r.gate.scan("TH1.ok")).opened  # the listener is alive


async def test_remote_open_and_onboarding_checks() -> None:
    async with rig() as r:
        await r.driver.open_door(r.device)
        await until(lambda: r.gate.door_opens == 1, "door opened")
        with pytest.raises(DeviceError, match="serial"):
            await r.driver.probe(DeviceConfig(id="x", vendor="mqtt"))
        with pytest.raises(DeviceError, match=r"\{serial\} once"):
            await r.driver.probe(
                DeviceConfig(
                    id="x", vendor="mqtt", serial="A", options={"event_topic": "gates/+/event"}
                )
            )
        with pytest.raises(DeviceError, match="kinds"):
            await r.driver.probe(
                DeviceConfig(
                    id="x", vendor="mqtt", serial="A", options={"kinds": {"qr": "hologram"}}
                )
            )


async def test_a_bridge_without_a_broker_starts_and_says_so() -> None:
    driver = MqttDriver(port=1, connect_timeout=0.3)  # nothing listens on port 1
    async with running_host([driver]) as host:
        device = DeviceConfig(id="m", vendor="mqtt", serial="A", options={"secret": SECRET})
        host.add(device)
        with pytest.raises(DeviceError, match="not reachable"):
            await driver.probe(device)
        await driver.attach(device)
        with pytest.raises(DeviceError, match="not reachable"):
            await driver.open_door(device)


async def start_broker(port: int, conf: Path) -> asyncio.subprocess.Process:
    """A Mosquitto of this test's own, so it can be stopped without touching anyone's."""
    assert MOSQUITTO is not None
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    proc = await asyncio.create_subprocess_exec(
        MOSQUITTO, "-c", str(conf),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            if loop.time() > deadline:
                proc.kill()
                await proc.wait()
                raise AssertionError("the private broker did not start") from None
            await asyncio.sleep(0.02)


async def stop_broker(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        await proc.wait()


@pytest.mark.skipif(MOSQUITTO is None, reason="the mosquitto binary is not installed")
async def test_the_driver_reconnects_and_resubscribes_after_the_broker_restarts(
    tmp_path: Path,
) -> None:
    port = free_port()
    prefix = f"th-test-{uuid.uuid4().hex[:10]}/gates"
    topics = {
        "event_topic": prefix + "/{serial}/event",
        "command_topic": prefix + "/{serial}/command",
        "secret": SECRET,
    }
    device = DeviceConfig(id="mq-r", vendor="mqtt", serial="R1", gate="south", options=topics)
    broker = await start_broker(port, tmp_path / "mosquitto.conf")
    try:
        driver = MqttDriver(port=port)
        async with running_host([driver]) as host:
            host.add(device)
            await driver.attach(device)
            gate = MqttGate(
                "R1", prefix=prefix, port=port, holds_list=False, answer_timeout=5, secret=SECRET
            )
            await gate.connect()
            host.valid.update({"TH1.before": 1, "TH1.after": 1})
            assert (await gate.scan("TH1.before")).opened
            await stop_broker(broker)  # the venue's broker restarts
            await until(lambda: not driver.status("mq-r")["broker"], "the driver saw it go")
            broker = await start_broker(port, tmp_path / "mosquitto.conf")
            await until(lambda: driver.status("mq-r")["broker"], "the driver is back", 10)
            await gate.disconnect()
            await gate.connect()
            assert (await gate.scan("TH1.after")).opened, "answered after resubscribing"
            await gate.close()
    finally:
        await stop_broker(broker)


async def test_a_long_list_goes_out_in_batches_each_a_version() -> None:
    async with rig() as r:
        tickets = [ticket(f"t{i:03d}", qr=f"TH1.{i}") for i in range(450)]
        await r.driver.push_credentials(r.device, tickets)
        await until(lambda: r.gate.list_version == 3, "three batches of at most 200")
        assert len(r.gate.entries) == 450 and r.driver.status("mq-1")["list_version"] == 3


async def test_messages_not_signed_by_the_gate_are_dropped_and_use_nothing() -> None:
    """The broker lets anyone publish on a gate's topic: only what the gate signed with
    its own secret counts — a scan to decide, a "granted" record — and an old signed ask
    replayed later is refused rather than decided again."""
    async with rig() as r:
        r.host.valid["TH1.multi"] = 2  # a ticket with entries to spare
        forged_record = {"msgId": "f-1", "code": "TH1.multi", "ts": 1, "result": 1}
        await r.gate.publish_raw(json.dumps(forged_record), sign=False)
        ask = {"msgId": "f-2", "code": "TH1.multi", "ts": 1}
        await r.gate.publish_raw(json.dumps(ask), sign=False)
        other = MqttGate(r.device.serial, prefix=r.prefix, secret="somebody-elses-secret")
        await r.gate.publish_raw(
            json.dumps({**ask, "sig": other._sig(r.gate.event_topic, ask)}), sign=False
        )
        elsewhere = f"{r.prefix}/G0THER/event"  # signed for another topic, posted on this one
        await r.gate.publish_raw(
            json.dumps({**ask, "sig": r.gate._sig(elsewhere, ask)}), sign=False
        )
        await until(lambda: r.driver.status("mq-1")["forged"] == 4, "all four dropped")
        assert r.host.events == {} and r.host.scans == [] and r.host.valid["TH1.multi"] == 2
        # the gate itself is heard, and its answer is an ask decided once
        assert (await r.gate.scan("TH1.multi")).opened
        replay = dict(r.gate.last_request)
        r.driver.decisions.clear()  # long after: the verdict is no longer remembered
        verdict: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        r.gate._waiting[replay["msgId"]] = verdict
        await r.gate.publish_raw(json.dumps(replay))  # captured off the broker, signed
        answer = await asyncio.wait_for(verdict, 5)
        assert answer["pass"] == 0 and len(r.host.scans) == 1
        assert r.host.valid["TH1.multi"] == 1
        # and commands: an "open" anyone publishes on the command topic is ignored
        await r.gate.publish_raw(
            json.dumps({"cmd": "open", "door": 1}), topic=r.gate.command_topic, sign=False
        )
        await r.driver.open_door(r.device)
        await until(lambda: r.gate.door_opens == 1, "the bridge's own open obeyed")
        assert r.gate.refused_commands == 1


async def test_a_gate_without_a_list_cannot_report_admitting_anyone() -> None:
    async with rig(holds_list=False) as r:
        r.host.valid["TH1.ok"] = 1
        await r.gate.publish_raw(json.dumps({"msgId": "n-1", "code": "TH1.ok", "result": 1}))
        await until(lambda: r.driver.status("mq-1")["forged"] == 1, "refused")
        assert r.host.events == {}
        assert (await r.gate.scan("TH1.ok")).opened  # it asks, as a gate without a list does
