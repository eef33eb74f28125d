"""Devices that keep their own list (controllers, face terminals) lose a ticket the
moment its last entry is counted at the bridge — not at the next sync, which during an
outage may be hours away: otherwise the same card or face opens a second gate."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from hardware_bridge.runtime import Bridge
from hardware_bridge.schema import SCHEMA_VERSION
from hardware_bridge.store import BridgeStore
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


async def test_a_granted_event_for_a_credential_never_pushed_to_the_device_is_refused(
    hub: TestClient, bridge: Bridge
) -> None:
    (ticket,) = await sold(hub, bridge, "o4", quantity=1)  # pushed to gate-1 after the sync
    # a ticket the bridge knows only from its signed QR (scanned at a reader after the
    # last sync, `Decider._from_qr`): cached, never pushed to any device
    bridge.store.ensure_ticket(
        {
            "id": "qronly0000000001",
            "product_id": "adult",
            "valid_from": ticket["valid_from"],
            "valid_until": ticket["valid_until"],
            "entries_allowed": 1,
            "credential": "TH1.sold-after-the-sync",
        }
    )
    unpushed = str(bridge.store.ticket("qronly0000000001")["card_no"])
    for key, value in (("90", unpushed), ("91", "12345")):  # and a card nobody holds
        event = DeviceEvent(
            device_id="gate-1", event_key=key, granted=True, medium=Medium.CARD, value=value
        )
        assert await bridge.host.device_event(event) is True  # logged once, as refused
        assert await bridge.host.device_event(event) is False
    assert bridge.host.health["gate-1"].forged == 2
    assert bridge.store.entries("qronly0000000001", "2026-11-23") == (0, 0, 0)
    stranger = DeviceEvent(
        device_id="gate-9", event_key="1", granted=True, medium=Medium.CARD, value=unpushed
    )
    assert await bridge.host.device_event(stranger) is False  # not onboarded: not logged
    card = str(bridge.store.ticket(ticket["id"])["card_no"])
    genuine = DeviceEvent(
        device_id="gate-1", event_key="92", granted=True, medium=Medium.CARD, value=card
    )
    assert await bridge.host.device_event(genuine) is True
    rows = bridge.store.db.execute(
        "SELECT event_key, allow, code FROM log WHERE kind = 'device' ORDER BY n"
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("90", 0, "FORGED_EVENT"),
        ("91", 0, "FORGED_EVENT"),
        ("92", 1, ""),
    ]
    assert bridge.store.entries(ticket["id"], "2026-11-23")[0] == 1


def test_devices_onboarded_before_the_upgrade_keep_their_tickets(tmp_path: Path) -> None:
    """A v2 file knows no pushes: its devices were pushed every ticket it held, so
    after the upgrade their reports of those tickets still count."""
    path = tmp_path / "v2.db"
    BridgeStore(path).close()  # the current schema, then made to look like v2
    old = sqlite3.connect(path)
    old.executescript(
        "DROP TABLE pushed; PRAGMA user_version = 2;"
        "INSERT INTO tickets(id, product_id, valid_from, valid_until, entries_allowed, state,"
        " card_no) VALUES ('00cc00cc00cc00cc', 'adult', '2026-11-22T16:00:00+00:00',"
        " '2026-11-23T16:00:00+00:00', 1, 'valid', 6161);"
        "INSERT INTO devices(id, vendor, serial, added_at)"
        " VALUES ('wg-1', 'uhppote', '423187757', '2026-11-22T10:00:00+00:00');"
    )
    old.close()
    store = BridgeStore(path)
    try:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.was_pushed("wg-1", "00cc00cc00cc00cc")
        assert not store.was_pushed("wg-2", "00cc00cc00cc00cc")
        store.remove_device("wg-1")
        assert not store.was_pushed("wg-1", "00cc00cc00cc00cc")
    finally:
        store.close()


async def test_a_card_number_in_other_digits_is_refused_not_a_crash(
    hub: TestClient, bridge: Bridge
) -> None:
    """'²' passes str.isdigit but not int(): the gate decision refused it by raising."""
    for value in ("²", "٣", "４２"):
        scan = Scan(device_id="gate-1", gate="north", medium=Medium.CARD, value=value)
        assert not (await bridge.host.decide(scan)).allow
        assert bridge.host.ticket_of(Medium.CARD, value) == ""
