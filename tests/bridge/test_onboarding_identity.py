"""Onboarding names a device after the serial the DEVICE reports, and a refused login is
``AUTH_FAILED``: `tickethub device add` against a running bridge with the real Hikvision
driver and simulated ISAPI terminals (Digest auth, 401 for a wrong password, 403 for an
account without configuration rights)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from typer.testing import CliRunner

from hardware_bridge.app import BRIDGE, create_app
from hardware_bridge.onboarding import default_device_id
from hub.cli import app as cli
from hub.clock import FixedClock
from plugins.device_hikvision.driver import HikvisionDriver
from sandbox.devices.hikvision import HikTerminal
from tests.bridge.conftest import AT, bridge_settings

TOKEN = "staff-token"


@pytest.fixture
async def terminals() -> AsyncIterator[list[HikTerminal]]:
    units = [
        HikTerminal(serial="DS-K1T671M20261122AAWR000001"),
        HikTerminal(serial="DS-K1T671M20261122AAWR000002"),
    ]
    for unit in units:
        await unit.start()
    yield units
    for unit in units:
        await unit.close()


@pytest.fixture
async def site(hub: TestClient, aiohttp_client: Any, tmp_path: Path) -> TestClient:
    app = await create_app(
        bridge_settings(str(hub.make_url("")), tmp_path / "b.db", admin_token=TOKEN),
        clock=FixedClock(AT),
        drivers={"hikvision": HikvisionDriver()},
        sync=False,
    )
    return await aiohttp_client(app)


def add(site: TestClient, terminal: HikTerminal, *extra: str, password: str = "") -> Any:
    """`tickethub device add hikvision …` exactly as staff type it: no --id, no --serial."""
    url = str(site.make_url("")).rstrip("/")
    args = [
        "device",
        "add",
        "hikvision",
        "--address",
        terminal.base_url,
        "--gate",
        "east",
        "--option",
        "user=admin",
        "--option",
        f"password={password or terminal.password}",
        "--option",
        f"event_url={url}",
        "--url",
        url,
        "--token",
        TOKEN,
        *extra,
    ]
    return CliRunner().invoke(cli, args)


async def test_two_terminals_added_without_an_id_are_named_after_their_own_serials(
    site: TestClient, terminals: list[HikTerminal]
) -> None:
    first, second = terminals
    one = await asyncio.to_thread(add, site, first)
    two = await asyncio.to_thread(add, site, second)
    assert one.exit_code == 0, one.output
    assert two.exit_code == 0, two.output  # was: both "hikvision-east" → DUPLICATE_DEVICE
    ids = [json.loads(r.output)["device"]["id"] for r in (one, two)]
    assert ids == [f"hikvision-{first.serial}", f"hikvision-{second.serial}"]
    host = site.app[BRIDGE].host
    assert [(d.id, d.serial) for d in host.devices()] == [
        (f"hikvision-{t.serial}", t.serial) for t in terminals
    ]
    assert first.http_host.endswith(f"/hikvision/events/hikvision-{first.serial}")
    # the same terminal again, still without an id: its serial is already onboarded
    again = await asyncio.to_thread(add, site, first)
    assert again.exit_code == 1 and "DUPLICATE_SERIAL" in again.output
    # an id staff give still wins
    url = str(site.make_url("")).rstrip("/")
    removed = await asyncio.to_thread(
        CliRunner().invoke, cli, ["device", "remove", ids[1], "--url", url, "--token", TOKEN]
    )
    assert removed.exit_code == 0, removed.output
    named = await asyncio.to_thread(add, site, second, "--id", "east-1")
    assert named.exit_code == 0, named.output
    assert [d.id for d in host.devices()] == ["east-1", ids[0]]


async def test_a_refused_password_is_auth_failed_not_unreachable(
    site: TestClient, terminals: list[HikTerminal]
) -> None:
    terminal = terminals[0]
    wrong = await asyncio.to_thread(add, site, terminal, password="not-the-password")
    assert wrong.exit_code == 1
    body = json.loads(wrong.output)
    assert body["code"] == "AUTH_FAILED", body
    assert "user name or password" in body["message"]
    assert terminal.auth_failures >= 1

    # an operator's account logs in (the serial is read) but may not configure: 403
    terminal.read_only = True
    limited = await asyncio.to_thread(add, site, terminal)
    assert limited.exit_code == 1
    body = json.loads(limited.output)
    assert body["code"] == "AUTH_FAILED" and "lowPrivilege" in body["message"], body
    assert site.app[BRIDGE].host.devices() == []  # nothing half-onboarded

    # a terminal that does not answer at all is still DEVICE_UNREACHABLE
    await terminal.close()
    gone = await asyncio.to_thread(add, site, terminal)
    assert json.loads(gone.output)["code"] == "DEVICE_UNREACHABLE"


def test_default_ids_fit_the_id_rules() -> None:
    assert default_device_id("uhppote", "423187757") == "uhppote-423187757"
    assert default_device_id("qrhttp", "SN 00:1A/7") == "qrhttp-SN-00-1A-7"
    long = default_device_id("hikvision", "X" * 80)
    assert len(long) == 64 and long.startswith("hikvision-XXX")


async def test_what_staff_left_out_is_invalid_device_config_not_unreachable(
    site: TestClient,
) -> None:
    """A refusal the driver makes before asking the device (no address, no password) is
    the command's fault: 422 INVALID_DEVICE_CONFIG, not 502 DEVICE_UNREACHABLE."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"vendor": "hikvision", "gate": "east", "options": {"password": "x"}}
    no_address = await site.post("/admin/devices", json=body, headers=auth)
    assert no_address.status == 422
    answer = await no_address.json()
    assert answer["code"] == "INVALID_DEVICE_CONFIG" and "address" in answer["message"], answer
    assert site.app[BRIDGE].host.devices() == []
