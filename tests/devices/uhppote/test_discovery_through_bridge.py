"""Discovery for venue staff: the bridge's ``/admin/devices/discover`` (what ``tickethub
device discover uhppote`` calls) finds a simulated controller by the uhppoted broadcast,
marks it NEW, and after onboarding shows which device it became; a vendor without
discovery in its protocol is told to add by address."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from hardware_bridge.app import create_app
from hub.clock import FixedClock
from plugins.device_qrhttp.driver import QRHttpDriver
from sandbox.devices.uhppote import SimulatedController
from tests.bridge.conftest import AT, bridge_settings, hub  # noqa: F401  (the hub fixture)
from tests.devices.uhppote.conftest import SERIAL, driver_for

STAFF = {"Authorization": "Bearer staff-token"}


async def test_staff_discover_a_controller_then_see_it_onboarded(
    hub: TestClient,  # noqa: F811
    controller: SimulatedController,
    aiohttp_client: Any,
    tmp_path: Path,
) -> None:
    app = await create_app(
        bridge_settings(str(hub.make_url("")), tmp_path / "b.db", admin_token="staff-token"),
        clock=FixedClock(AT),
        drivers={"uhppote": driver_for(controller), "qrhttp": QRHttpDriver()},
        sync=False,
    )
    site = await aiohttp_client(app)
    url = "/admin/devices/discover"
    assert (await site.get(url, params={"vendor": "uhppote"})).status == 401

    resp = await site.get(url, params={"vendor": "uhppote", "timeout": "0.5"}, headers=STAFF)
    body = await resp.json()
    assert resp.status == 200, body
    (found,) = body["devices"]
    assert found["serial"] == str(SERIAL) and found["onboarded_as"] is None
    assert found["address"] == f"127.0.0.1:{controller.address[1]}"

    add = {"id": "wg-east", "vendor": "uhppote", "address": found["address"], "gate": "east"}
    resp = await site.post("/admin/devices", json=add, headers=STAFF)
    assert resp.status == 201, await resp.json()
    again = await (await site.get(url, params={"vendor": "uhppote"}, headers=STAFF)).json()
    assert [d["onboarded_as"] for d in again["devices"]] == ["wg-east"]

    for params, status, code in [
        ({"vendor": "qrhttp"}, 400, "NO_DISCOVERY"),
        ({"vendor": "acme"}, 400, "UNKNOWN_VENDOR"),
        ({"vendor": "uhppote", "timeout": "soon"}, 400, "INVALID_REQUEST"),
        ({"vendor": "uhppote", "timeout": "60"}, 400, "INVALID_REQUEST"),
    ]:
        resp = await site.get(url, params=params, headers=STAFF)
        assert (resp.status, (await resp.json())["code"]) == (status, code), params
