"""Timed tickets at the gate: the order's slot travels in the change feed into the bridge's
cache, and the product's ``slot_window`` entry rule keeps a visitor to it (slot start −
early to slot end + late). Whole-day tickets and tickets the bridge never synced (a signed
QR carries no slot) are checked against their validity only."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from hardware_bridge.runtime import Bridge
from hardware_bridge.schema import SCHEMA_VERSION
from hardware_bridge.store import BridgeStore
from hub.clock import FixedClock
from hub.domain.gate import Medium
from tests.bridge.test_decisions import REALNAME, _sell, scan
from tests.support import TOMORROW, put

TZ = ZoneInfo("Asia/Shanghai")
RULES = {"entry": [{"check": "slot_window", "early_minutes": 30, "late_minutes": 15}]}


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    """Bridge time on the tickets' travel day, venue-local."""
    return datetime.combine(TOMORROW, time(hh, mm, ss), TZ).astimezone(UTC)


async def _timed_products(hub: TestClient, bridge: Bridge) -> None:
    """`timed` (pool main) and `timed_rn` (real-name) keep to their slot at the gate;
    `main` also sells whole-day units; the bridge reads the new products."""
    base = {"venue_id": "v1", "pool": "main", "prices": [{"amount": 8000}]}
    await put(hub, "/api/admin/products/timed", {**base, "name": "Timed", "rules": RULES})
    await put(
        hub,
        "/api/admin/products/timed_rn",
        {**base, "name": "Timed real-name", "rules": {"sale": [{"check": "real_name"}], **RULES}},
    )
    day = TOMORROW.isoformat()
    await put(
        hub,
        "/api/admin/inventory",
        {"pool": "main", "date_from": day, "date_to": day, "slots": [{"code": "", "capacity": 5}]},
    )
    await bridge.link.pull_config()


async def _decide_at(bridge: Bridge, when: datetime, value: str, medium: Medium = Medium.QR) -> Any:
    clock = bridge.clock
    assert isinstance(clock, FixedClock)
    clock.set(when)
    return await bridge.host.decide(scan(value, medium))


async def test_timed_ticket_enters_only_inside_its_slot_window(
    hub: TestClient, bridge: Bridge
) -> None:
    await _timed_products(hub, bridge)
    sold = await _sell(hub, "t1", product="timed", quantity=2, slot="09:00-11:00")
    await bridge.link.sync_once()
    first, second = (t["credential"] for t in sold["tickets"])
    row = bridge.store.ticket(sold["tickets"][0]["id"])
    assert row is not None
    assert (row["slot_code"], row["slot_start"], row["slot_end"]) == (
        "09:00-11:00",
        "09:00:00",
        "11:00:00",
    )

    # 09:00 − 30 min opens, 11:00 + 15 min closes (exclusive); refusals use no entry
    for when, reason in (
        (at(8, 29, 59), "Too early: entry from 08:30"),
        (at(11, 15), "Slot entry closed at 11:15"),
        (at(15, 0), "Slot entry closed at 11:15"),
    ):
        refused = await _decide_at(bridge, when, first)
        assert (refused.allow, refused.code, refused.reason) == (
            False,
            "OUTSIDE_ENTRY_WINDOW",
            reason,
        ), when
    opening = await _decide_at(bridge, at(8, 30), first)
    closing = await _decide_at(bridge, at(11, 14, 59), second)
    assert (opening.allow, closing.allow) == (True, True)
    assert [r["code"] for r in bridge.store.db.execute("SELECT code FROM log ORDER BY n")] == [
        "OUTSIDE_ENTRY_WINDOW"
    ] * 3 + ["", ""]


async def test_whole_day_ticket_of_the_same_product_enters_any_time(
    hub: TestClient, bridge: Bridge
) -> None:
    await _timed_products(hub, bridge)
    sold = await _sell(hub, "w1", product="timed", quantity=2, slot="")
    await bridge.link.sync_once()
    row = bridge.store.ticket(sold["tickets"][0]["id"])
    assert row is not None and row["slot_code"] == ""
    early = await _decide_at(bridge, at(6, 0), sold["tickets"][0]["credential"])
    late = await _decide_at(bridge, at(23, 0), sold["tickets"][1]["credential"])
    assert (early.allow, late.allow) == (True, True)
    # and a timed ticket of a product WITHOUT slot_window is not held to its slot
    plain = await _sell(hub, "p1", product="adult", slot="09:00-11:00")
    await bridge.link.sync_once()
    assert (await _decide_at(bridge, at(15, 0), plain["tickets"][0]["credential"])).allow


async def test_id_card_picks_the_holders_ticket_for_the_current_slot(
    hub: TestClient, bridge: Bridge
) -> None:
    await _timed_products(hub, bridge)
    visitor = [{"name": "张三", "id_type": "id_card", "id_number": REALNAME}]
    await _sell(hub, "am", product="timed_rn", slot="09:00-11:00", visitors=visitor)
    pm = await _sell(hub, "pm", product="timed_rn", slot="13:00-15:00", visitors=visitor)
    await bridge.link.sync_once()
    between = await _decide_at(bridge, at(12, 0), REALNAME, Medium.ID_CARD)
    assert (between.allow, between.code) == (False, "OUTSIDE_ENTRY_WINDOW")
    afternoon = await _decide_at(bridge, at(13, 40), REALNAME, Medium.ID_CARD)
    assert (afternoon.allow, afternoon.ticket_id) == (True, pm["tickets"][0]["id"])


async def test_never_synced_qr_is_held_to_its_signed_validity_only(
    hub: TestClient, bridge: Bridge
) -> None:
    """The claims carry no slot: outside the slot but inside the signed day it enters
    (see `Decider._from_qr`); outside the signed validity it does not; once synced, the
    cached ticket keeps to its slot."""
    await _timed_products(hub, bridge)
    sold = await _sell(hub, "q1", product="timed", quantity=2, slot="09:00-11:00")
    first, second = (t["credential"] for t in sold["tickets"])
    next_day = await _decide_at(bridge, at(10, 0) + timedelta(days=1), first)
    assert (next_day.allow, next_day.code) == (False, "NOT_VALID_TODAY")
    assert (await _decide_at(bridge, at(15, 0), first)).allow
    await bridge.link.sync_once()
    synced = await _decide_at(bridge, at(15, 0), second)
    assert (synced.allow, synced.code) == (False, "OUTSIDE_ENTRY_WINDOW")


OLD_TICKETS = """
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE tickets (
    id TEXT PRIMARY KEY, order_id TEXT NOT NULL DEFAULT '', product_id TEXT NOT NULL,
    valid_from TEXT NOT NULL, valid_until TEXT NOT NULL, entries_allowed INTEGER NOT NULL,
    entries_used INTEGER NOT NULL DEFAULT 0, units INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL, credential TEXT NOT NULL DEFAULT '', holder_id TEXT,
    card_no INTEGER NOT NULL UNIQUE, seq INTEGER NOT NULL DEFAULT 0
);
INSERT INTO meta VALUES ('cursor', '7.00aa00aa00aa00aa');
INSERT INTO tickets (id, product_id, valid_from, valid_until, entries_allowed, state, card_no)
VALUES ('00aa00aa00aa00aa', 'timed', '2026-11-22T16:00:00+00:00',
        '2026-11-23T16:00:00+00:00', 1, 'valid', 4242);
"""


def test_a_bridge_file_from_before_slots_is_upgraded_and_reread(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(OLD_TICKETS)
    old.close()

    store = BridgeStore(path)
    try:
        row = store.ticket("00aa00aa00aa00aa")
        assert row is not None
        assert (row["card_no"], row["slot_code"], row["slot_start"]) == (4242, "", "")
        # the cursor starts over so the next sync brings every ticket's slot
        assert store.meta("cursor") == ""
        version = store.db.execute("PRAGMA user_version").fetchone()[0]
        assert version == SCHEMA_VERSION
        store.apply_changes(
            [
                {
                    "id": "00aa00aa00aa00aa",
                    "product_id": "timed",
                    "valid_from": row["valid_from"],
                    "valid_until": row["valid_until"],
                    "entries_allowed": 1,
                    "state": "valid",
                    "slot": {"code": "09:00-11:00", "start": "09:00:00", "end": "11:00:00"},
                }
            ],
            "9.00aa00aa00aa00aa",
        )
    finally:
        store.close()
    # opening again changes nothing: the upgrade ran once
    again = BridgeStore(path)
    try:
        row = again.ticket("00aa00aa00aa00aa")
        assert row is not None
        assert (row["card_no"], row["slot_code"]) == (4242, "09:00-11:00")
        assert again.meta("cursor") == "9.00aa00aa00aa00aa"
    finally:
        again.close()
