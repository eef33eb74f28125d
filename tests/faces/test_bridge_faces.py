"""The bridge's face cache: what devices are given, what is dropped and when, a photo
withdrawn between the page and the fetch, and a bridge file from before faces."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from aiohttp.test_utils import TestClient

from hardware_bridge.faces import FaceCache
from hardware_bridge.runtime import Bridge
from hardware_bridge.schema import SCHEMA_VERSION
from hardware_bridge.store import BridgeStore
from hub.clock import FixedClock
from tests.bridge.conftest import LoopDriver, bridge, hub  # noqa: F401  (fixtures)
from tests.faces.jpegs import face_jpeg
from tests.faces.kit import delete_face, put_face, sell_real_name, ticket_of

PHOTO = face_jpeg(160, 200)


def loop(b: Bridge) -> LoopDriver:
    driver = b.host.drivers["loop"]
    assert isinstance(driver, LoopDriver)
    return driver


async def test_devices_get_the_face_with_its_ticket_and_lose_both_after_the_visit(
    hub: TestClient,  # noqa: F811
    bridge: Bridge,  # noqa: F811
) -> None:
    sold = await sell_real_name(hub, "bf-1", 51, 52)
    with_face, without = ticket_of(sold, 0)["id"], ticket_of(sold, 1)["id"]
    assert (await put_face(hub, sold["id"], 0, PHOTO))[0] == 200
    await bridge.link.sync_once()
    held = loop(bridge).pushed["gate-1"]
    assert held[with_face].face_jpeg == PHOTO and not held[with_face].revoked
    assert held[without].face_jpeg is None
    assert bridge.link.state.faces_fetched == 1

    # A device onboarded later gets the photo in its first list too.
    loop(bridge).units["10.0.0.6"] = "LOOP-0006"
    await bridge.host.add_device("loop", device_id="gate-2", address="10.0.0.6")
    assert loop(bridge).pushed["gate-2"][with_face].face_jpeg == PHOTO

    # Nothing to do: a second sync fetches nothing again.
    await bridge.link.sync_once()
    assert bridge.link.state.faces_fetched == 1

    # The day after the visit: the bridge drops its copy and the devices the person.
    clock = bridge.clock
    assert isinstance(clock, FixedClock)
    clock.advance(days=3)
    await bridge.link.sync_once()
    assert FaceCache(bridge.store).held() == {}
    for device in ("gate-1", "gate-2"):
        gone = loop(bridge).pushed[device][with_face]
        assert gone.revoked and gone.face_jpeg is None


async def test_a_face_withdrawn_before_the_fetch_is_not_fetched_again_and_again(
    hub: TestClient,  # noqa: F811
    bridge: Bridge,  # noqa: F811
) -> None:
    sold = await sell_real_name(hub, "bf-2", 53)
    ticket = ticket_of(sold, 0)["id"]
    assert (await put_face(hub, sold["id"], 0, PHOTO))[0] == 200
    await bridge.link.pull_changes()  # the page says "face"; the fetch comes later
    cache = FaceCache(bridge.store)
    now = bridge.clock.now().isoformat()
    assert [t for t, _ in cache.wanted(now)] == [ticket]
    await delete_face(hub, sold["id"], 0)
    assert await bridge.link.pull_faces() == 0  # the hub answers 404
    assert cache.wanted(now) == [] and cache.held() == {}
    assert loop(bridge).pushed["gate-1"][ticket].face_jpeg is None

    # Enrolled again: a new change, fetched at the next sync.
    assert (await put_face(hub, sold["id"], 0, PHOTO))[0] == 200
    await bridge.link.sync_once()
    assert set(cache.held()) == {ticket}
    assert loop(bridge).pushed["gate-1"][ticket].face_jpeg == PHOTO


V1_FILE = """
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE tickets (
    id TEXT PRIMARY KEY, order_id TEXT NOT NULL DEFAULT '', product_id TEXT NOT NULL,
    valid_from TEXT NOT NULL, valid_until TEXT NOT NULL, entries_allowed INTEGER NOT NULL,
    entries_used INTEGER NOT NULL DEFAULT 0, units INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL, credential TEXT NOT NULL DEFAULT '', holder_id TEXT,
    card_no INTEGER NOT NULL UNIQUE, seq INTEGER NOT NULL DEFAULT 0,
    slot_code TEXT NOT NULL DEFAULT '', slot_start TEXT NOT NULL DEFAULT '',
    slot_end TEXT NOT NULL DEFAULT ''
);
INSERT INTO meta VALUES ('cursor', '9.00bb00bb00bb00bb');
INSERT INTO tickets (id, product_id, valid_from, valid_until, entries_allowed, state, card_no)
VALUES ('00bb00bb00bb00bb', 'realname', '2026-11-22T16:00:00+00:00',
        '2026-11-23T16:00:00+00:00', 1, 'valid', 5151);
PRAGMA user_version = 1;
"""


def test_a_bridge_file_from_before_faces_is_upgraded_and_reread(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    old = sqlite3.connect(path)
    old.executescript(V1_FILE)
    old.close()
    store = BridgeStore(path)
    try:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        row = store.ticket("00bb00bb00bb00bb")
        assert row is not None and (row["card_no"], row["face"]) == (5151, "")
        assert store.meta("cursor") == ""  # read every ticket again, faces included
        assert FaceCache(store).held() == {}
        plan = store.db.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM tickets WHERE face != '' ORDER BY id"
        ).fetchall()
        assert "ix_tickets_face" in str([tuple(r) for r in plan])  # each sync asks this
        store.apply_changes(
            [
                {
                    "id": "00bb00bb00bb00bb",
                    "product_id": "realname",
                    "valid_from": row["valid_from"],
                    "valid_until": row["valid_until"],
                    "entries_allowed": 1,
                    "state": "valid",
                    "face": "a" * 32,
                }
            ],
            "12.00bb00bb00bb00bb",
        )
        at = "2026-11-23T02:00:00+00:00"
        assert FaceCache(store).wanted(at) == [("00bb00bb00bb00bb", "a" * 32)]
        assert FaceCache(store).wanted("2026-11-24T00:00:00+00:00") == []  # visit over
    finally:
        store.close()
    again = BridgeStore(path)
    try:
        assert again.meta("cursor") == "12.00bb00bb00bb00bb"  # the upgrade ran once
        assert again.ticket("00bb00bb00bb00bb")["face"] == "a" * 32  # type: ignore[index]
    finally:
        again.close()
