"""Face photos at the bridge: fetched from the hub when a ticket's face version moves,
kept for the visit in the bridge's own file (table ``faces``), handed to devices in
`GateCredential.face_jpeg`, and dropped as soon as nobody needs them.

The change feed says which version a ticket wants (``tickets.face``; '' = none); this
cache holds the photo it has. The difference is the work: a wanted version not held is
fetched (`wanted`), a held photo no longer wanted — withdrawn, replaced, the ticket
revoked or used up, the visit over — is deleted (`drop_unwanted`). Both are derived from
the tables each time, so an interrupted sync simply does the rest next round.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hardware_bridge.store import BridgeStore

WITHDRAWN = "withdrawn"  # the ticket stays valid: devices must forget the face, not the ticket
OVER = "over"  # the visit is over (validity passed): devices forget the ticket
REVOKED = "revoked"  # refunded / used up / gone: the ticket's own change told the devices


@dataclass(frozen=True, slots=True)
class Dropped:
    ticket_id: str
    why: str


def device_plan(
    fresh: list[str], replaced: list[str], dropped: list[Dropped]
) -> tuple[list[str], list[str]]:
    """(tickets to delete from devices, tickets to push as they are now) after a sync.

    A new face is pushed with its ticket. A replaced or withdrawn face cannot simply be
    overwritten: a terminal keeps a face it was once given when the person is updated
    without one, and may refuse a second photo for the same person. So the person is
    deleted (as for a revocation) and pushed again as it is now. When the visit is over
    the person goes for good. A revoked ticket's own change already deleted it."""
    again = replaced + [d.ticket_id for d in dropped if d.why == WITHDRAWN]
    over = [d.ticket_id for d in dropped if d.why == OVER]
    return again + over, fresh + again


class FaceCache:
    def __init__(self, store: BridgeStore) -> None:
        self.db = store.db
        self.store = store

    def wanted(self, now_iso: str, limit: int = 100) -> list[tuple[str, str]]:
        """(ticket id, version) of photos to fetch: wanted by a ticket that can still be
        used, and not held in that version."""
        rows = self.db.execute(
            "SELECT t.id, t.face FROM tickets t LEFT JOIN faces f ON f.ticket_id = t.id"
            " WHERE t.face != '' AND t.state = 'valid' AND t.valid_until > ?"
            " AND (f.version IS NULL OR f.version != t.face) ORDER BY t.id LIMIT ?",
            (now_iso, limit),
        ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def put(self, ticket_id: str, version: str, jpeg: bytes, now_iso: str) -> bool:
        """Keep a fetched photo; True when it replaced another one."""
        with self.store.tx() as conn:
            had = (
                conn.execute("SELECT 1 FROM faces WHERE ticket_id = ?", (ticket_id,)).fetchone()
                is not None
            )
            conn.execute(
                "INSERT INTO faces(ticket_id, version, jpeg, fetched_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(ticket_id) DO UPDATE SET version = excluded.version,"
                " jpeg = excluded.jpeg, fetched_at = excluded.fetched_at",
                (ticket_id, version, jpeg, now_iso),
            )
            # the hub may already hold a newer version than the feed said: want that one
            conn.execute("UPDATE tickets SET face = ? WHERE id = ?", (version, ticket_id))
        return had

    def not_found(self, ticket_id: str, version: str) -> None:
        """The hub has no photo (withdrawn or refunded after the page was read): stop
        wanting this version. A later enrollment takes a new change, so nothing is lost."""
        with self.store.tx() as conn:
            conn.execute(
                "UPDATE tickets SET face = '' WHERE id = ? AND face = ?", (ticket_id, version)
            )

    def drop_unwanted(self, now_iso: str) -> list[Dropped]:
        """Delete every held photo no ticket wants any more, and say why for each."""
        rows = self.db.execute(
            "SELECT f.ticket_id, t.id AS tid, t.state, t.valid_until, t.face FROM faces f"
            " LEFT JOIN tickets t ON t.id = f.ticket_id"
            " WHERE t.id IS NULL OR t.face = '' OR t.state != 'valid' OR t.valid_until <= ?",
            (now_iso,),
        ).fetchall()
        if not rows:
            return []
        dropped = []
        for r in rows:
            if r["tid"] is None or r["state"] != "valid":
                why = REVOKED
            elif r["valid_until"] <= now_iso:
                why = OVER
            else:
                why = WITHDRAWN
            dropped.append(Dropped(str(r["ticket_id"]), why))
        with self.store.tx() as conn:
            conn.executemany(
                "DELETE FROM faces WHERE ticket_id = ?", [(d.ticket_id,) for d in dropped]
            )
        return dropped

    def jpegs(self, ticket_ids: Iterable[str]) -> dict[str, bytes]:
        ids = list(ticket_ids)
        out: dict[str, bytes] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.db.execute(
                f"SELECT ticket_id, jpeg FROM faces WHERE ticket_id IN ({marks})", chunk
            ):
                out[str(r[0])] = bytes(r[1])
        return out

    def held(self) -> dict[str, str]:
        """ticket id → version of every photo held (status and tests)."""
        return {
            str(r[0]): str(r[1]) for r in self.db.execute("SELECT ticket_id, version FROM faces")
        }
