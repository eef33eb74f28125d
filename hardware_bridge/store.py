"""The bridge's own SQLite file: the credential cache, the decision log, the devices.

stdlib ``sqlite3`` on the event loop's thread, on purpose: a decision is one indexed read
and one small committed insert (well under a millisecond), and doing it synchronously
makes "read the entries, decide, append to the log" atomic with respect to every other
scan on this bridge without any lock. WAL journal with ``synchronous=FULL``: a decision
is on disk before the gate is answered (principle: durable before acknowledged).

The log is append-only: rows are inserted, then only ever marked ``synced``; their
content never changes. Device events share the log (``kind='device'``) with a unique
(device, event_key) so a device's catch-up or replayed event is recorded once.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any

from hardware_bridge import schema

TICKET_COLUMNS = (
    "id",
    "order_id",
    "product_id",
    "valid_from",
    "valid_until",
    "entries_allowed",
    "entries_used",
    "units",
    "state",
    "credential",
    "holder_id",
    "card_no",
    "seq",
    "slot_code",
    "slot_start",
    "slot_end",
    "face",
    "parts",
)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One decision (or device event, or staff admission) as the log keeps it."""

    id: str
    kind: str  # scan | device | manual | backfill
    ticket_id: str
    device: str
    gate: str
    medium: str
    direction: str
    allow: bool
    code: str
    reason: str
    at: datetime
    device_at: datetime | None
    offline: bool
    event_key: str | None = None
    staff: str = ""
    note: str = ""
    part: str = ""  # the combo part this entry takes (`hub.domain.combo`), "" if none


def _slot(slot: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """(code, start, end) of a change's slot; empty strings for a whole-day ticket (and
    for a hub older than slots, which sends none). Times that do not parse are treated
    like the hub treats a bad code, as whole-day: one bad row must neither stall the sync
    of every other ticket nor crash a decision later."""
    if not slot or not slot.get("code"):
        return "", "", ""
    try:
        start, end = time.fromisoformat(str(slot["start"])), time.fromisoformat(str(slot["end"]))
    except (KeyError, ValueError):
        return "", "", ""
    return str(slot["code"]), start.isoformat(), end.isoformat()


def card_candidate(ticket_id: str) -> int:
    """First try of a ticket's 32-bit card number: derived from its id (so the same
    ticket usually gets the same number on any bridge), never 0."""
    raw = int.from_bytes(hashlib.blake2b(ticket_id.encode(), digest_size=4).digest(), "big")
    return raw % 0xFFFFFFFF + 1


class BridgeStore:
    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        schema.create(self.db)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- meta ------------------------------------------------------------------------------
    def meta(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def set_meta(self, key: str, value: str, conn: sqlite3.Connection | None = None) -> None:
        (conn or self.db).execute(
            "INSERT INTO meta(k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            (key, value),
        )

    def meta_json(self, key: str) -> Any:
        text = self.meta(key)
        return json.loads(text) if text else None

    # -- tickets ---------------------------------------------------------------------------
    def apply_changes(self, tickets: Sequence[Mapping[str, Any]], cursor: str) -> list[str]:
        """Upsert a page of ticket changes and move the cursor, in one transaction (a page
        applied twice is harmless; a page half applied never happens)."""
        changed: list[str] = []
        with self.tx() as conn:
            for t in tickets:
                values = (
                    t["id"],
                    t.get("order_id", ""),
                    t["product_id"],
                    t["valid_from"],
                    t["valid_until"],
                    int(t["entries_allowed"]),
                    int(t.get("entries_used", 0)),
                    int(t.get("units", 1)),
                    t["state"],
                    t.get("credential", ""),
                    t.get("holder_id_number") or None,
                    int(t.get("seq", 0)),
                    *_slot(t.get("slot")),
                    str(t.get("face") or "")[:64],  # the face photo's version, not the photo
                    json.dumps(t["parts"], sort_keys=True) if t.get("parts") else "",
                )
                updated = conn.execute(
                    "UPDATE tickets SET order_id=?, product_id=?, valid_from=?, valid_until=?,"
                    " entries_allowed=?, entries_used=?, units=?, state=?, credential=?,"
                    " holder_id=?, seq=?, slot_code=?, slot_start=?, slot_end=?, face=?,"
                    " parts=? WHERE id=?",
                    (*values[1:], values[0]),
                ).rowcount
                if not updated:
                    self._insert_ticket(conn, values)
                changed.append(str(t["id"]))
            self.set_meta("cursor", cursor, conn)
        return changed

    def _insert_ticket(self, conn: sqlite3.Connection, values: tuple[Any, ...]) -> None:
        """Insert with a card number nobody else holds: the derived candidate, or the next
        free one. Once stored a ticket keeps its number (controllers hold it)."""
        card = card_candidate(values[0])
        while True:
            try:
                conn.execute(
                    "INSERT INTO tickets(id, order_id, product_id, valid_from, valid_until,"
                    " entries_allowed, entries_used, units, state, credential, holder_id, seq,"
                    " slot_code, slot_start, slot_end, face, parts, card_no)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (*values, card),
                )
                return
            except sqlite3.IntegrityError as exc:
                if "card_no" not in str(exc):
                    raise
                card = card % 0xFFFFFFFF + 1

    def ensure_ticket(self, values: Mapping[str, Any]) -> None:
        """Cache a ticket known only from its signed QR (sold after the last sync), so a
        card number and later entries attach to it; the next sync overwrites it."""
        if self.ticket(values["id"]) is not None:
            return
        with self.tx() as conn:
            self._insert_ticket(
                conn,
                (
                    values["id"],
                    "",
                    values["product_id"],
                    values["valid_from"],
                    values["valid_until"],
                    values["entries_allowed"],
                    0,
                    1,
                    "valid",
                    values.get("credential", ""),
                    None,
                    0,
                    "",  # no slot: the claims cannot carry one (see `Decider._from_qr`)
                    "",
                    "",
                    "",  # no face known until the next sync
                    values.get("parts", ""),  # a combo's parts, from its product
                ),
            )

    def ticket(self, ticket_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()

    def ticket_by_card(self, card_no: int) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM tickets WHERE card_no = ?", (card_no,)).fetchone()

    def ticket_by_credential(self, text: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM tickets WHERE credential = ?", (text,)).fetchone()

    def tickets_of_holder(self, id_number: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM tickets WHERE holder_id = ? ORDER BY valid_from", (id_number,)
        ).fetchall()

    def tickets_by_ids(self, ids: Iterable[str]) -> list[sqlite3.Row]:
        ids = list(ids)
        out: list[sqlite3.Row] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            out.extend(
                self.db.execute(f"SELECT * FROM tickets WHERE id IN ({marks})", chunk).fetchall()
            )
        return out

    def valid_tickets(self, now_iso: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM tickets WHERE valid_until > ? ORDER BY id", (now_iso,)
        ).fetchall()

    def ticket_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM tickets").fetchone()[0])

    # -- local entries ---------------------------------------------------------------------
    def entries(self, ticket_id: str, day: str) -> tuple[int, int, int]:
        """(entries today, entries at this bridge ever, of which not yet synced)."""
        rows = self.db.execute(
            "SELECT day, count, unsynced FROM entries WHERE ticket_id = ?", (ticket_id,)
        ).fetchall()
        today = sum(r["count"] for r in rows if r["day"] == day)
        return today, sum(r["count"] for r in rows), sum(r["unsynced"] for r in rows)

    def part_entries(self, ticket_id: str, part: str, day: str) -> tuple[int, int, int]:
        """Like `entries`, for one part of a combo: (today, at this bridge ever, of which
        not yet synced), from the log (a partial index on (ticket_id, part))."""
        row = self.db.execute(
            "SELECT count(*), coalesce(sum(day = ?), 0), coalesce(sum(synced = 0), 0)"
            " FROM log WHERE ticket_id = ? AND part = ? AND day IS NOT NULL",
            (day, ticket_id, part),
        ).fetchone()
        return int(row[1]), int(row[0]), int(row[2])

    def exhausted(self, ticket_ids: Iterable[str]) -> set[str]:
        """Of these valid tickets, those whose entries are used up as far as this bridge
        knows: the hub's count plus the entries it has not heard of yet, or all entries
        counted here, whichever is more (the decider's own arithmetic)."""
        ids = list(dict.fromkeys(ticket_ids))
        out: set[str] = set()
        for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(  # per ticket, through the entries' primary key
                "SELECT t.id FROM tickets t, (SELECT e.ticket_id, sum(e.count) AS c,"
                " sum(e.unsynced) AS u FROM entries e"
                f" WHERE e.ticket_id IN ({marks}) GROUP BY e.ticket_id) AS e"
                " WHERE t.id = e.ticket_id AND t.state = 'valid'"
                " AND max(e.c, t.entries_used + e.u) >= t.entries_allowed",
                chunk,
            ).fetchall()
            out.update(r[0] for r in rows)
        return out

    # -- the log ---------------------------------------------------------------------------
    def append(self, entry: LogEntry, *, count_day: str | None) -> bool:
        """Append one decision durably (and count the entry when ``count_day`` is given:
        the row carries its day, and a ticket's entries grow — a staff admission without
        a ticket counts that way too, see `admitted_on`); False when a device event with
        the same (device, event_key) is already logged."""
        with self.tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO log(id, kind, ticket_id, device, gate, medium, direction,"
                " allow, code, reason, at, device_at, offline, event_key, staff, note, day,"
                " part) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    entry.id,
                    entry.kind,
                    entry.ticket_id,
                    entry.device,
                    entry.gate,
                    entry.medium,
                    entry.direction,
                    int(entry.allow),
                    entry.code,
                    entry.reason,
                    entry.at.isoformat(),
                    entry.device_at.isoformat() if entry.device_at else None,
                    int(entry.offline),
                    entry.event_key,
                    entry.staff,
                    entry.note,
                    count_day,  # the day of an admission that counts, ticket or not
                    entry.part,
                ),
            )
            if cur.rowcount != 1:
                return False
            if count_day is not None and entry.ticket_id:
                conn.execute(
                    "INSERT INTO entries(ticket_id, day, count, unsynced) VALUES (?, ?, 1, 1)"
                    " ON CONFLICT(ticket_id, day) DO UPDATE SET count = count + 1,"
                    " unsynced = unsynced + 1",
                    (entry.ticket_id, count_day),
                )
        return True

    def unsynced(self, limit: int, after: int = 0) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM log WHERE synced = 0 AND n > ? ORDER BY n LIMIT ?", (after, limit)
        ).fetchall()

    def unsynced_count(self) -> int:
        """Decisions not yet at the hub (the health report's backlog; on the index)."""
        return int(self.db.execute("SELECT count(*) FROM log WHERE synced = 0").fetchone()[0])

    def mark_synced(self, rows: Sequence[sqlite3.Row]) -> None:
        """The hub has these rows: mark them, and move their entries from "unsynced" (the
        hub's entries_used may not count them yet) to known by the hub."""
        with self.tx() as conn:
            conn.executemany("UPDATE log SET synced = 1 WHERE n = ?", [(r["n"],) for r in rows])
            conn.executemany(
                "UPDATE entries SET unsynced = max(0, unsynced - 1)"
                " WHERE ticket_id = ? AND day = ?",
                [(r["ticket_id"], r["day"]) for r in rows if r["day"] is not None],
            )

    def admitted_on(self, day: str) -> int:
        """Admissions counted on a venue-local day: ticket entries (scans, device events,
        manual ones with a ticket) and staff admissions without a ticket alike — every
        row that `append` was given a ``count_day`` for."""
        row = self.db.execute(
            "SELECT count(*) FROM log WHERE day = ? AND allow = 1 AND direction = 'in'", (day,)
        ).fetchone()
        return int(row[0])

    def log_counts(self) -> dict[str, int]:
        row = self.db.execute(
            "SELECT count(*), coalesce(sum(synced = 0), 0), coalesce(sum(allow), 0) FROM log"
        ).fetchone()
        return {"decisions": int(row[0]), "unsynced": int(row[1]), "admitted": int(row[2])}

    # -- devices ---------------------------------------------------------------------------
    def devices(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM devices ORDER BY id").fetchall()

    def add_device(self, row: Mapping[str, Any]) -> None:
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO devices(id, vendor, address, serial, gate, options, model, added_at)"
                " VALUES (:id, :vendor, :address, :serial, :gate, :options, :model, :added_at)",
                dict(row),
            )

    def remove_device(self, device_id: str) -> bool:
        with self.tx() as conn:
            conn.execute("DELETE FROM pushed WHERE device = ?", (device_id,))
            return conn.execute("DELETE FROM devices WHERE id = ?", (device_id,)).rowcount == 1

    # -- what each device was given ---------------------------------------------------------
    def mark_pushed(self, device_id: str, ticket_ids: Iterable[str]) -> None:
        """These tickets were (about to be) pushed to the device as valid: from now on it
        may report admitting them. Kept when the ticket is later revoked — a device may
        admit it offline before the revocation reaches it, and that entry is real."""
        rows = [(device_id, t) for t in dict.fromkeys(ticket_ids)]
        if not rows:
            return
        with self.tx() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO pushed(device, ticket_id) VALUES (?, ?)", rows
            )

    def was_pushed(self, device_id: str, ticket_id: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM pushed WHERE device = ? AND ticket_id = ?", (device_id, ticket_id)
        ).fetchone()
        return row is not None
