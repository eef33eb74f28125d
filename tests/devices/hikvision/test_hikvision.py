"""Hikvision ISAPI terminals: the driver against a simulated terminal with Digest auth."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from hub.sdk import DeviceConfig, DeviceError, GateCredential
from hub.testing.device_host import RecordingHost, running_host
from plugins.device_hikvision.auth import event_credentials
from plugins.device_hikvision.driver import HikvisionDriver
from sandbox.devices.hikvision import HikTerminal

JPEG = b"\xff\xd8\xff\xe0" + b"face" * 100


def config(terminal: HikTerminal, **options: str) -> DeviceConfig:
    opts = {"user": terminal.user, "password": terminal.password, **options}
    return DeviceConfig(
        id="hik-1",
        vendor="hikvision",
        address=terminal.base_url,
        serial=terminal.serial,
        gate="east",
        options=opts,
    )


def cred(
    card: int, *, face: bytes | None = None, revoked: bool = False, hours: int = 8
) -> GateCredential:
    return GateCredential(
        ticket_id=f"t{card}",
        valid_from=datetime.now(UTC) - timedelta(hours=1),
        valid_until=datetime.now(UTC) + timedelta(hours=hours),
        card_no=card,
        name="Li Lei",
        face_jpeg=face,
        revoked=revoked,
    )


@asynccontextmanager
async def rig(
    **options: str,
) -> AsyncIterator[tuple[RecordingHost, HikvisionDriver, HikTerminal, DeviceConfig]]:
    terminal = HikTerminal()
    await terminal.start()
    driver = HikvisionDriver()
    try:
        async with running_host([driver]) as host:
            device = config(terminal, **options)
            host.add(device)
            yield host, driver, terminal, device
    finally:
        await terminal.close()


async def test_onboarding_reads_the_serial_points_events_here_and_syncs_the_clock() -> None:
    async with rig() as (host, driver, terminal, device):
        terminal.clock_offset = timedelta(hours=-3)  # the terminal's clock is hours off
        info = await driver.probe(device)
        assert info.serial == terminal.serial and info.model == "DS-K1T671M"
        await driver.attach(device)
        assert terminal.http_host == f"{host.base_url}/hikvision/events/hik-1"
        assert abs(terminal.clock_offset) < timedelta(seconds=5)
        bad = dataclasses.replace(device, options={"user": "admin", "password": "wrong"})
        with pytest.raises(DeviceError, match="user name or password"):
            await driver.probe(bad)


async def test_persons_cards_and_faces_pushed_then_decided_at_the_terminal() -> None:
    async with rig() as (host, driver, terminal, device):
        await driver.attach(device)
        await driver.push_credentials(device, [cred(501, face=JPEG), cred(502)])
        assert set(terminal.persons) == {"501", "502"} and terminal.persons["501"].face == JPEG
        assert await terminal.present_card("501")
        assert await terminal.present_face("501")
        assert not await terminal.present_face("502")  # no face enrolled
        assert not await terminal.present_card("999")
        await driver.push_credentials(device, [cred(502, revoked=True)])
        assert not await terminal.present_card("502")
        granted = [e.medium.value for e in host.events.values() if e.granted]
        assert sorted(granted) == ["card", "face"]
        reasons = sorted(e.reason for e in host.events.values() if not e.granted)
        assert reasons == ["card not found", "card not found", "face not matched"]


async def test_events_missed_during_an_outage_are_caught_up_once() -> None:
    async with rig() as (host, driver, terminal, device):
        await driver.attach(device)
        await driver.push_credentials(device, [cred(601)])
        terminal.picture = True  # multipart with a snapshot
        assert await terminal.present_card("601")
        terminal.http_host = "http://127.0.0.1:9/unreachable"  # the bridge is away
        for _ in range(35):  # more than one search page
            await terminal.present_card("601")
        assert len(host.events) == 1
        new = await driver.catch_up(device)
        assert new == 35 and len(host.events) == 36  # the live one came back: a duplicate
        assert await driver.catch_up(device) == 0 and host.duplicates == 1 + 36


async def test_qr_codes_are_verified_online_by_the_bridge() -> None:
    async with rig() as (host, driver, terminal, device):
        await driver.attach(device)
        host.valid["TH1.valid-code"] = 1
        assert await terminal.present_qr("TH1.valid-code")
        assert not await terminal.present_qr("TH1.valid-code")  # used up at the bridge
        assert not await terminal.present_qr("TH1.forged")
        assert driver.remote_checks == 3 and len(host.scans) == 3
        terminal.online = False
        assert not await terminal.present_qr("TH1.valid-code")  # cannot ask: refuse


def signed(device: DeviceConfig) -> aiohttp.DigestAuthMiddleware:
    """What the terminal answers our challenge with, as `attach` configured it."""
    return aiohttp.DigestAuthMiddleware(*event_credentials(device))


async def test_malformed_and_foreign_events_are_refused_without_crashing() -> None:
    async with rig() as (host, _driver, _terminal, device):
        url = f"{host.base_url}/hikvision/events/hik-1"
        for body in (
            b"not json",
            b'{"eventType": "VMD"}',
            b'{"eventType": "AccessControllerEvent", "AccessControllerEvent": {"serialNo": "x"}}',
        ):
            resp = await host.http.post(url, data=body, middlewares=(signed(device),))
            assert resp.status == 200 and (await resp.json())["statusString"] == "ignored"
        resp = await host.http.post(f"{host.base_url}/hikvision/events/nobody", data=b"{}")
        assert resp.status == 404
        resp = await host.http.post(
            url,
            data=b"x" * (600 * 1024),
            headers={"Content-Length": str(600 * 1024)},
            middlewares=(signed(device),),
        )
        assert resp.status == 200 and (await resp.json())["statusString"] == "ignored"
        assert not host.events


def granted(serial_no: int, card: str, *, remote: bool = False) -> bytes:
    body = {
        "eventType": "AccessControllerEvent",
        "dateTime": datetime.now(UTC).isoformat(timespec="seconds"),
        "AccessControllerEvent": {
            "majorEventType": 5,
            "subEventType": 0x9C if remote else 0x01,
            "cardNo": card,
            "serialNo": serial_no,
            "currentVerifyMode": "qrCode" if remote else "card",
            "cardReaderNo": 1,
            **({"remoteCheck": True} if remote else {}),
        },
    }
    return json.dumps(body).encode()


async def test_forged_events_are_refused_and_the_terminal_s_own_still_count() -> None:
    """A "granted" event (or a remote check, which would use up a QR ticket) posted by
    anyone but the terminal is refused before it is read: no Digest answer, a wrong
    password, a replayed answer, the right password from another address."""
    async with rig() as (host, driver, terminal, device):
        await driver.attach(device)
        assert terminal.host_auth == "MD5digest" and terminal.host_user == "tickethub"
        assert terminal.host_password == event_credentials(device)[1]
        host.valid["TH1.visitor"] = 1
        url = terminal.http_host
        resp = await host.http.post(url, data=granted(900, "501"))
        assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Digest ")
        resp = await host.http.post(url, data=granted(901, "TH1.visitor", remote=True))
        assert resp.status == 401
        wrong = aiohttp.DigestAuthMiddleware("tickethub", "guessed")
        resp = await host.http.post(url, data=granted(902, "501"), middlewares=(wrong,))
        assert resp.status == 401
        # the right password from another machine of the LAN
        away = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=away) as other:
            resp = await other.post(url, data=granted(903, "501"), middlewares=(signed(device),))
            assert resp.status == 403
        # an answer captured on the wire and sent again
        seen: list[str] = []

        async def capture(req: aiohttp.ClientRequest, handler: Any) -> aiohttp.ClientResponse:
            resp = await handler(req)
            if resp.status == 200:
                seen.append(req.headers["Authorization"])
            return resp

        ok = await host.http.post(url, data=b"{}", middlewares=(signed(device), capture))
        assert ok.status == 200 and seen
        replay = await host.http.post(
            url, data=granted(904, "501"), headers={"Authorization": seen[0]}
        )
        assert replay.status == 401
        assert host.events == {} and host.scans == [] and host.valid["TH1.visitor"] == 1
        assert driver.refused == {"unknown_device": 0, "wrong_source": 1, "bad_auth": 2}
        # the terminal itself still gets through, events and remote checks alike
        await driver.push_credentials(device, [cred(501)])
        assert await terminal.present_card("501")
        assert await terminal.present_qr("TH1.visitor")
        assert [e.value for e in host.granted_events()] == ["501"]
        assert host.valid["TH1.visitor"] == 0
