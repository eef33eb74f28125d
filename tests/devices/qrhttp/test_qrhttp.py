"""HTTP QR readers: the driver against simulated readers of two vendor families, over
real HTTP on 127.0.0.1, with a host that decides from a table of valid values."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from importlib.metadata import entry_points

import aiohttp
import pytest

from hub.sdk import DeviceConfig, DeviceDriver, DeviceError, GateDecision, Medium, Scan
from hub.sdk.registries import DeviceDriverRegistry
from hub.testing.device_host import RecordingHost, running_host
from plugins.device_qrhttp.driver import Flight, QRHttpDriver
from sandbox.devices.qrhttp import KIND_ID_CARD, CardIdReader, JsonPostReader

TOKEN = "east-reader-secret-0001"  # each reader's own, in the URL it is configured with
WEST_TOKEN = "west-reader-secret-0077"
EAST = DeviceConfig(
    id="qr-east",
    vendor="qrhttp",
    serial="QR0001",
    gate="east-1",
    options={"mapping": "cardid", "token": TOKEN},
)
WEST = DeviceConfig(
    id="qr-west",
    vendor="qrhttp",
    serial="JP-77",
    gate="",
    options={"mapping": "jsonpost", "token": WEST_TOKEN},
)
ID_NUMBER = "11010119900307123X"


async def attached(host: RecordingHost, driver: QRHttpDriver, *devices: DeviceConfig) -> None:
    host.add(*devices)
    for device in devices:
        await driver.probe(device)
        await driver.attach(device)


def reader(host: RecordingHost, device: DeviceConfig = EAST, **kw: object) -> CardIdReader:
    kw.setdefault("token", device.options.get("token", ""))
    return CardIdReader(host.base_url, device.serial, device.gate, host.http, **kw)  # type: ignore[arg-type]


async def test_the_plugin_registers_the_driver_through_its_entry_point() -> None:
    (entry,) = [e for e in entry_points(group="tickethub") if e.name == "device_qrhttp"]
    registry = DeviceDriverRegistry()
    entry.load().register_device_drivers(registry=registry)
    assert isinstance(QRHttpDriver(), DeviceDriver)  # the Protocol the bridge drives
    assert "qrhttp" in registry
    assert isinstance(registry.get("qrhttp")(), QRHttpDriver)


async def test_a_valid_code_opens_the_relay_once_and_a_second_use_is_refused() -> None:
    driver = QRHttpDriver()
    async with running_host([driver]) as host:
        await attached(host, driver, EAST)
        host.valid["TH1.good"] = 1
        gate = reader(host)
        first = await gate.scan("TH1.good")
        assert first.opened and first.http_status == 200
        assert gate.relay_opens == 1 and gate.relay_ms == 3000 and gate.display == "Welcome"
        assert first.answer["beep"] == 1  # the mapping's constant fields
        scan, decision = host.scans[0]
        assert (scan.device_id, scan.gate, scan.medium) == ("qr-east", "east-1", Medium.QR)
        assert decision.allow
        gate.clock_offset += timedelta(seconds=5)  # a later presentation, not a retry
        again = await gate.scan("TH1.good")
        assert not again.opened and gate.relay_opens == 1
        assert again.answer["status"] == 0 and again.answer["relay_time"] == 0
        assert driver.status("qr-east")["scans"] == 2


async def test_unknown_serials_and_detached_readers_are_refused_in_the_vendors_words() -> None:
    driver = QRHttpDriver()
    async with running_host([driver]) as host:
        await attached(host, driver, EAST)
        host.valid["TH1.good"] = 5
        stranger = reader(host, DeviceConfig(id="x", vendor="qrhttp", serial="NOPE", gate="1"))
        out = await stranger.scan("TH1.good")
        assert not out.opened and out.http_status == 403 and out.answer["text"] == "Unknown device"
        await driver.detach(EAST.id)
        out = await reader(host).scan("TH1.good")
        assert out.http_status == 403
        assert host.scans == [] and host.valid["TH1.good"] == 5


async def test_a_reader_hours_off_is_decided_on_the_bridge_clock_and_resynced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    driver = QRHttpDriver()
    async with running_host([driver]) as host:
        await attached(host, driver, EAST)
        host.valid["TH1.good"] = 1
        gate = reader(host, clock_offset=timedelta(hours=-5))
        with caplog.at_level(logging.WARNING, logger="plugins.device_qrhttp"):
            assert (await gate.scan("TH1.good")).opened
        skew = driver.status("qr-east")["clock_skew_seconds"]
        assert -5 * 3600 - 60 < skew < -5 * 3600 + 60
        assert "clock is" in caplog.text
        scan, _ = host.scans[0]
        assert scan.at is not None and host.clock.now() - scan.at > timedelta(hours=4)
        # the answer's server_time set the reader's clock back to the bridge's
        assert gate.clock_syncs == 1 and abs(gate.clock_offset) < timedelta(minutes=1)


async def test_id_cards_are_scanned_as_id_card_and_masked_in_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    driver = QRHttpDriver()
    async with running_host([driver]) as host:
        await attached(host, driver, EAST)
        host.valid[ID_NUMBER] = 1
        with caplog.at_level(logging.DEBUG, logger="plugins.device_qrhttp"):
            assert (await reader(host).scan(ID_NUMBER, KIND_ID_CARD)).opened
        assert host.scans[0][0].medium is Medium.ID_CARD
        assert ID_NUMBER not in caplog.text and "1101**********123X" in caplog.text


async def test_a_retried_request_gets_the_first_answer_without_a_second_decision() -> None:
    driver = QRHttpDriver()
    async with running_host([driver]) as host:
        await attached(host, driver, EAST)
        host.valid["TH1.once"] = 1
        gate = reader(host)
        assert (await gate.scan("TH1.once")).opened
        replayed = await gate.replay()  # same code, same device time
        assert replayed.opened and len(host.scans) == 1
        gate.clock_offset += timedelta(seconds=5)  # a new presentation, seconds later
        assert not (await gate.scan("TH1.once")).opened
        assert len(host.scans) == 2


async def test_a_late_decision_is_handed_to_the_rescan_instead_of_being_lost() -> None:
    driver = QRHttpDriver()
    quick = DeviceConfig(
        id="qr-q",
        vendor="qrhttp",
        serial="QR0009",
        gate="g",
        options={"timeout_ms": 300, "token": TOKEN},
    )
    async with running_host([driver]) as host:
        release = asyncio.Event()
        decide = host.decide

        async def slow(scan: Scan) -> GateDecision:
            """A decision slower than the reader's timeout: it ends when the test says."""
            await release.wait()
            return await decide(scan)

        host.decide = slow  # type: ignore[method-assign]
        await attached(host, driver, quick)
        host.valid["TH1.slow"] = 1
        gate = reader(host, quick)
        late = await gate.scan("TH1.slow")
        assert not late.opened and late.answer["text"] == "Please scan again"
        release.set()
        await asyncio.sleep(0)
        rescan = await gate.scan("TH1.slow")
        assert rescan.opened, "the entry the late decision used opens the gate now"
        assert len(host.scans) == 1 and host.valid["TH1.slow"] == 0
        assert driver.status("qr-q")["late_answers"] == 1


async def test_the_json_vendor_posts_and_gets_its_own_answer_layout() -> None:
    driver = QRHttpDriver()
    async with running_host([driver]) as host:
        await attached(host, driver, WEST)
        host.valid["TH1.json"] = 1
        gate = JsonPostReader(
            host.base_url,
            WEST.serial,
            "3",
            host.http,
            clock_offset=timedelta(hours=2),
            token=WEST_TOKEN,
        )
        out = await gate.scan("TH1.json")
        assert out.opened and out.answer["code"] == 0 and gate.relay_ms == 3000
        assert abs(gate.clock_offset) < timedelta(minutes=1)
        assert host.scans[0][0].gate == "3"
        refused = await gate.scan("TH1.other", kind="idcard")
        assert not refused.opened and refused.answer == {
            "code": 1,
            "msg": "Not valid",
            "data": {"openSeconds": 0, "serverTime": refused.answer["data"]["serverTime"]},
        }
        assert host.scans[1][0].medium is Medium.ID_CARD


async def test_malformed_scans_get_a_deny_answer_never_a_crash() -> None:
    driver = QRHttpDriver()
    async with running_host([driver]) as host:
        await attached(host, driver, EAST, WEST)
        url = host.base_url + "/api/turnstile/verify?token=" + WEST_TOKEN
        cases: list[tuple[bytes, int]] = [
            (b"{not json", 400),
            (b"[1, 2]", 400),
            (b"\xff\xfe", 400),
            (b'{"sn": "JP-77", "qrCode": ""}', 400),
            (b'{"sn": "JP-77", "qrCode": "' + b"A" * 2000 + b'"}', 400),
            (b'{"sn": "JP-77", "qrCode": "x"}' + b" " * 20_000, 413),
        ]
        for body, status in cases:
            async with host.http.post(url, data=body) as resp:
                assert resp.status == status, body[:40]
                doc = await resp.json()
                assert doc["code"] == 1  # the vendor's "deny": the turnstile stays shut
        no_code = {"cjihao": "QR0001", "token": TOKEN}
        async with host.http.get(host.base_url + "/scan", params=no_code) as resp:
            assert resp.status == 400 and (await resp.json())["status"] == 0
        bad_time = {"cardid": "TH1.t", "cjihao": "QR0001", "time": "yesterday-ish", "token": TOKEN}
        async with host.http.get(host.base_url + "/scan", params=bad_time) as resp:
            assert resp.status == 200  # an unreadable device time is ignored, not fatal
        assert host.scans[-1][0].at is None
        async with host.http.get(host.base_url + "/qrhttp/nowhere") as resp:
            assert resp.status == 404
        # unreadable bodies name no reader; the two readable ones count against qr-west
        assert driver.status("qr-west")["refused"] == 2


async def test_an_offline_reader_stays_shut_and_queues_nothing() -> None:
    driver = QRHttpDriver()
    async with running_host([driver]) as host:
        await attached(host, driver, EAST)
        host.valid["TH1.good"] = 1
        gate = reader(host)
        gate.online = False
        assert not (await gate.scan("TH1.good")).opened
        assert gate.shut_offline == 1 and host.scans == []
        gate.online = True
        assert (await gate.scan("TH1.good")).opened and len(host.scans) == 1
    async with aiohttp.ClientSession() as http:  # the bridge is gone: nobody answers
        orphan = CardIdReader(host.base_url, EAST.serial, "1", http, timeout=1.0, token=TOKEN)
        out = await orphan.scan("TH1.good")
        assert not out.opened and out.http_status is None and orphan.shut_offline == 1


async def test_custom_paths_and_field_overrides_from_the_devices_options() -> None:
    driver = QRHttpDriver()
    custom = DeviceConfig(
        id="qr-c",
        vendor="qrhttp",
        serial="C-1",
        gate="south",
        options={
            "mapping": "cardid",
            "path": "/qrhttp/south",
            "answer": {"relay_open": 800},
            "token": TOKEN,
        },
    )
    async with running_host([driver]) as host:
        await attached(host, driver, custom)
        host.valid["TH1.c"] = 1
        gate = CardIdReader(
            host.base_url, "C-1", "south", host.http, path="/qrhttp/south", token=TOKEN
        )
        assert (await gate.scan("TH1.c")).opened and gate.relay_ms == 800
        with pytest.raises(DeviceError, match="not served"):
            await driver.probe(
                DeviceConfig(
                    id="z",
                    vendor="qrhttp",
                    serial="Z",
                    options={"path": "/elsewhere", "token": TOKEN},
                )
            )
        with pytest.raises(DeviceError, match="unknown QR reader mapping"):
            await driver.probe(
                DeviceConfig(
                    id="z",
                    vendor="qrhttp",
                    serial="Z",
                    options={"mapping": "nosuch", "token": TOKEN},
                )
            )
        with pytest.raises(DeviceError, match="serial"):
            await driver.probe(DeviceConfig(id="z", vendor="qrhttp"))
        with pytest.raises(DeviceError, match="must differ"):
            await driver.probe(
                DeviceConfig(
                    id="z",
                    vendor="qrhttp",
                    serial="Z",
                    options={"answer": {"open": 0}, "token": TOKEN},
                )
            )


async def test_scans_not_sent_by_the_onboarded_reader_are_refused_and_use_nothing() -> None:
    """Its serial is printed on the reader and sent in clear: a scan counts only with the
    reader's own token and, when it was onboarded with an address, from that address."""
    driver = QRHttpDriver()
    pinned = DeviceConfig(
        id="qr-p",
        vendor="qrhttp",
        serial="QR0002",
        gate="p",
        address="127.0.0.1",
        options={"mapping": "cardid", "token": "pinned-reader-secret-02"},
    )
    async with running_host([driver]) as host:
        await attached(host, driver, EAST, pinned)
        host.valid["TH1.visitor"] = 1
        for forged in (
            reader(host, token=""),  # serial only: what anyone on the LAN can send
            reader(host, token="guessed-secret-000000"),
            reader(host, pinned, token=TOKEN),  # another reader's token
        ):
            out = await forged.scan("TH1.visitor")
            assert not out.opened and out.http_status == 403
            assert out.answer["text"] == "Unauthorized"
        away = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=away) as other:
            elsewhere = CardIdReader(
                host.base_url, pinned.serial, "p", other, token="pinned-reader-secret-02"
            )
            out = await elsewhere.scan("TH1.visitor")  # right token, another machine
            assert not out.opened and out.http_status == 403
        assert host.scans == [] and host.valid["TH1.visitor"] == 1
        assert driver.status("qr-east")["forged"] == 2 and driver.status("qr-p")["forged"] == 2
        bearer = {"cardid": "TH1.visitor", "cjihao": "QR0002", "status": "11"}
        headers = {"Authorization": "Bearer pinned-reader-secret-02"}
        async with host.http.get(host.base_url + "/scan", params=bearer, headers=headers) as resp:
            assert (await resp.json())["status"] == 1  # the reader itself, token in a header
        assert host.valid["TH1.visitor"] == 0
        with pytest.raises(DeviceError, match="secret of its own"):
            await driver.probe(DeviceConfig(id="t", vendor="qrhttp", serial="T"))


async def test_per_scan_work_does_not_grow_with_the_number_of_readers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With 32 readers attached a scan neither compares every reader's configuration
    (repr of each mapping) nor walks the host's devices for the serial: both are looked
    up in tables the driver keeps up to date on attach and detach."""
    driver = QRHttpDriver()
    readers = [
        DeviceConfig(
            id=f"qr-{i}",
            vendor="qrhttp",
            serial=f"QRS{i:03d}",
            gate=f"g{i}",
            options={"mapping": "cardid", "token": f"reader-secret-{i:06d}-x"},
        )
        for i in range(32)
    ]
    async with running_host([driver]) as host:
        await attached(host, driver, *readers, WEST)
        host.valid.update({f"TH1.v{i}": 1 for i in range(32)})
        mapping_type = type(driver.readers["qr-0"].mapping)

        def no_repr(_self: object) -> str:
            raise AssertionError("a mapping's repr was computed during a scan")

        def no_walk(_vendor: str, _serial: str) -> None:
            raise AssertionError("the host's devices were walked during a scan")

        monkeypatch.setattr(mapping_type, "__repr__", no_repr)
        monkeypatch.setattr(host, "device_by_serial", no_walk)
        for i in (0, 17, 31):
            out = await reader(host, readers[i]).scan(f"TH1.v{i}")
            assert out.opened, i
            assert host.scans[-1][0].device_id == f"qr-{i}"
        monkeypatch.undo()
        await driver.detach("qr-17")  # the tables follow: its serial is unknown now
        out = await reader(host, readers[17]).scan("TH1.v18")
        assert not out.opened and out.http_status == 403
        assert out.answer["text"] == "Unknown device"
        assert host.valid["TH1.v18"] == 1


async def test_remembered_decisions_expire_from_the_front() -> None:
    """Decisions are kept oldest first; expired ones are dropped from the front (one
    still deciding is set aside so stopping the driver still cancels it), and a new
    decision for a known (device, code) moves to the back."""
    driver = QRHttpDriver(replay_seconds=30.0)
    loop = asyncio.get_running_loop()

    def flight(started: float, *, done: bool = True) -> Flight:
        fut: asyncio.Future[GateDecision] = loop.create_future()
        if done:
            fut.set_result(GateDecision.model_construct(allow=True))
        return Flight(fut, "", started)  # type: ignore[arg-type]

    pending = flight(1.0, done=False)
    driver.flights[("a", "1")] = flight(0.0)
    driver.flights[("a", "2")] = pending
    driver.flights[("a", "3")] = flight(50.0)
    driver.flights[("a", "4")] = flight(60.0)
    driver._forget(now=85.0)  # 30 s window: 55.0 and later stay
    assert list(driver.flights) == [("a", "4")]
    assert pending.task in driver._stale
    pending.task.set_result(GateDecision.model_construct(allow=False))  # type: ignore[union-attr]
    await asyncio.sleep(0)
    assert not driver._stale  # forgotten once decided
    driver.flights[("a", "5")] = flight(70.0)
    driver.flights.pop(("a", "4"))
    driver.flights[("a", "4")] = flight(80.0)  # what _flight does for a new decision
    driver._forget(now=95.0)
    assert list(driver.flights) == [("a", "5"), ("a", "4")]
