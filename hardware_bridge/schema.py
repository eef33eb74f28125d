"""The bridge's SQLite schema and its upgrades.

There is no Alembic on the bridge: the file is a cache plus an append-only log, created by
``CREATE … IF NOT EXISTS`` at every start. That alone never changes an existing table, so
a column added later needs an upgrade step here, keyed by ``PRAGMA user_version`` (0 for
every bridge file written before versions existed). Each step is idempotent (it looks at
the columns first) and runs in one transaction with the version bump, so a bridge stopped
halfway upgrades again at its next start.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 4

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL DEFAULT '',
    product_id TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    entries_allowed INTEGER NOT NULL,
    entries_used INTEGER NOT NULL DEFAULT 0,
    units INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL,
    credential TEXT NOT NULL DEFAULT '',
    holder_id TEXT,
    card_no INTEGER NOT NULL UNIQUE,
    seq INTEGER NOT NULL DEFAULT 0,
    slot_code TEXT NOT NULL DEFAULT '',
    slot_start TEXT NOT NULL DEFAULT '',
    slot_end TEXT NOT NULL DEFAULT '',
    face TEXT NOT NULL DEFAULT '',
    parts TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS ix_tickets_holder ON tickets(holder_id);
CREATE INDEX IF NOT EXISTS ix_tickets_credential ON tickets(credential);
CREATE TABLE IF NOT EXISTS entries (
    ticket_id TEXT NOT NULL,
    day TEXT NOT NULL,
    count INTEGER NOT NULL,
    unsynced INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ticket_id, day)
);
CREATE TABLE IF NOT EXISTS log (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    ticket_id TEXT NOT NULL DEFAULT '',
    device TEXT NOT NULL DEFAULT '',
    gate TEXT NOT NULL DEFAULT '',
    medium TEXT NOT NULL,
    direction TEXT NOT NULL,
    allow INTEGER NOT NULL,
    code TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL,
    device_at TEXT,
    offline INTEGER NOT NULL,
    event_key TEXT,
    staff TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    day TEXT,
    synced INTEGER NOT NULL DEFAULT 0,
    part TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_log_event ON log(device, event_key)
    WHERE event_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_log_unsynced ON log(synced, n);
CREATE TABLE IF NOT EXISTS faces (
    ticket_id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    jpeg BLOB NOT NULL,
    fetched_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    vendor TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    serial TEXT NOT NULL,
    gate TEXT NOT NULL DEFAULT '',
    options TEXT NOT NULL DEFAULT '{}',
    model TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL,
    UNIQUE (vendor, serial)
);
CREATE TABLE IF NOT EXISTS pushed (
    device TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    PRIMARY KEY (device, ticket_id)
) WITHOUT ROWID;
"""

# On columns an upgrade may add, so created after the upgrades. The sync asks which faces
# to fetch every round (`FaceCache.wanted`): without this it scans every ticket each time
# (~40 ms of the event loop at 100k tickets), with it only the few that have a face.
AFTER_UPGRADES = """
CREATE INDEX IF NOT EXISTS ix_tickets_face ON tickets(id) WHERE face != '';
CREATE INDEX IF NOT EXISTS ix_log_part ON log(ticket_id, part) WHERE part != '';
"""

SLOT_COLUMNS = ("slot_code", "slot_start", "slot_end")


def create(db: sqlite3.Connection) -> None:
    """Create what is missing, then upgrade an older file to `SCHEMA_VERSION`."""
    db.executescript(SCHEMA)
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version < SCHEMA_VERSION:
        _upgrade(db, version)
    db.executescript(AFTER_UPGRADES)


def _upgrade(db: sqlite3.Connection, version: int) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        if version < 1:
            _add_slots(db)
        if version < 2:
            _add_faces(db)
        if version < 3:
            _seed_pushed(db)
        if version < 4:
            _add_parts(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _add_slots(db: sqlite3.Connection) -> None:
    """v1: tickets know their slot. Tickets cached before carry none (they would enter all
    day), so the change cursor is reset too: the next sync reads every ticket again with
    its slot. Applying a change is an upsert that keeps each ticket's card number, so
    reading them again is harmless; only the first sync after the upgrade is longer."""
    have = {row[1] for row in db.execute("PRAGMA table_info(tickets)")}
    missing = [c for c in SLOT_COLUMNS if c not in have]
    for column in missing:
        db.execute(f"ALTER TABLE tickets ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
    if missing:
        db.execute("UPDATE meta SET v = '' WHERE k = 'cursor'")


def _add_faces(db: sqlite3.Connection) -> None:
    """v2: tickets know the version of their visitor's face photo (``face``, from the
    change feed; the photo itself is in ``faces``, created above). The cursor is reset
    like for v1, so a face enrolled before the upgrade is learnt at the next sync."""
    have = {row[1] for row in db.execute("PRAGMA table_info(tickets)")}
    if "face" not in have:
        db.execute("ALTER TABLE tickets ADD COLUMN face TEXT NOT NULL DEFAULT ''")
        db.execute("UPDATE meta SET v = '' WHERE k = 'cursor'")


def _seed_pushed(db: sqlite3.Connection) -> None:
    """v3: the bridge remembers which tickets it pushed to which device (``pushed``), and
    refuses a device's "granted" event for any other (`BridgeHost.device_event`). Devices
    onboarded before were pushed every ticket the bridge held while they were attached,
    which it did not record: they are taken to hold every cached ticket, so an entry they
    admitted before the upgrade and report afterwards still counts."""
    db.execute(
        "INSERT OR IGNORE INTO pushed(device, ticket_id)"
        " SELECT d.id, t.id FROM devices d, tickets t"
    )


def _add_parts(db: sqlite3.Connection) -> None:
    """v4: combo tickets carry their entries per attraction (``tickets.parts``, JSON from
    the change feed) and each logged entry the part it took (``log.part``). The cursor is
    reset like for v1, so combos cached before the upgrade learn their parts at the next
    sync; their earlier entries name no part and the hub's count covers them."""
    have = {row[1] for row in db.execute("PRAGMA table_info(tickets)")}
    if "parts" not in have:
        db.execute("ALTER TABLE tickets ADD COLUMN parts TEXT NOT NULL DEFAULT ''")
        db.execute("UPDATE meta SET v = '' WHERE k = 'cursor'")
    if "part" not in {row[1] for row in db.execute("PRAGMA table_info(log)")}:
        db.execute("ALTER TABLE log ADD COLUMN part TEXT NOT NULL DEFAULT ''")
