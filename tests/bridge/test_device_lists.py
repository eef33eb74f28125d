"""Devices that keep their own list (controllers, face terminals) lose a ticket the
moment its last entry is counted at the bridge — not at the next sync, which during an
outage may be hours away: otherwise the same card or face opens a second gate."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from hardware_bridge.runtime import Bridge
from hub.domain.gate import DeviceEvent, GateCredential, Medium, Scan
from tests.bridge.conftest import AT
from tests.support import order


def held(bridge: Bridge, device_id: str) -> dict[str, GateCredential]:
    return bridge.host.drivers["loop"].pushed[device_id]  # type: ignore[attr-defined,no-any-return]


async def until_revoked(bridge: Bridge, device_id: str, ticket_id: str) -> None:
    """The push runs in the background: wait (bounded) for it to reach the device."""
    for _ in range(200):
        if held(bridge, device_id)[ticket_id].revoked:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{ticket_id} still valid on {device_id}")


async def sold(hub: TestClient, bridge: Bridge, key: str, quantity: int) -> list[dict[str, Any]]:
    status, body = await order(hub, key, quantity=quantity, confirm=True)
    assert status == 201, body
    await bridge.link.sync_once()
    return list(body["order"]["tickets"])


async def test_an_entry_a_device_counted_takes_the_ticket_off_the_other_devices(
    hub: TestClient, bridge: Bridge
) -> None:
    await bridge.host.add_device("loop", device_id="gate-2", address="10.0.0.6", gate="south")
    first, second = await sold(hub, bridge, "o1", quantity=2)
    assert not held(bridge, "gate-1")[first["id"]].revoked
    card = str(bridge.store.ticket(first["id"])["card_no"])
    event = DeviceEvent(
        device_id="gate-1", event_key="77", granted=True, medium=Medium.CARD, value=card, at=AT
    )
    assert await bridge.host.device_event(event) is True
    await until_revoked(bridge, "gate-2", first["id"])  # the south gate will not open for it
    await until_revoked(bridge, "gate-1", first["id"])
    assert not held(bridge, "gate-2")[second["id"]].revoked  # the other ticket is untouched
    # a device onboarded later (before any sync) gets the used ticket as revoked too
    creds = {
        c.ticket_id: c
        for c in bridge.host.credentials(bridge.store.tickets_by_ids([first["id"], second["id"]]))
    }
    assert creds[first["id"]].revoked and not creds[second["id"]].revoked


async def test_an_admission_decided_at_the_bridge_is_pushed_off_the_lists_too(
    hub: TestClient, bridge: Bridge
) -> None:
    (ticket,) = await sold(hub, bridge, "o2", quantity=1)
    scan = Scan(device_id="gate-1", gate="north", medium=Medium.QR, value=ticket["credential"])
    decision = await bridge.host.decide(scan)
    assert decision.allow
    await until_revoked(bridge, "gate-1", ticket["id"])
    refused = await bridge.host.decide(scan)  # and the bridge itself refuses a second use
    assert not refused.allow


async def test_a_refused_scan_pushes_nothing(hub: TestClient, bridge: Bridge) -> None:
    (ticket,) = await sold(hub, bridge, "o3", quantity=1)
    before = held(bridge, "gate-1")[ticket["id"]]
    bogus = Scan(device_id="gate-1", gate="north", medium=Medium.QR, value="TH1.forged")
    assert not (await bridge.host.decide(bogus)).allow
    await asyncio.sleep(0.05)
    assert held(bridge, "gate-1")[ticket["id"]] is before
