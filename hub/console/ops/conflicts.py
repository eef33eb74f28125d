"""Double-use conflicts: admitted entries the hub could not count (a ticket used up at two
offline bridges, used after a refund, unknown to the hub — `hub.redemptions.uploads`),
and what a supervisor decided about each.

The redemption stays as the bridge reported it; the decision is its own row
(``conflict_resolution``), written with its audit line in one transaction. Reads go per
venue through ``ix_redemption_conflict`` (venue, conflict): a handful of venues, never a
scan of all redemptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.console.audit import record
from hub.storage.ops_tables import ConflictResolutionRow
from hub.storage.tables import RedemptionRow, TicketRow, VenueRow

RED = RedemptionRow.__table__
RES = ConflictResolutionRow.__table__
TIX = TicketRow.__table__
VENUE = VenueRow.__table__
LIMIT = 200
NOTE_MAX = 500


@dataclass(frozen=True, slots=True)
class Conflict:
    id: str
    venue_id: str
    ticket_id: str
    order_id: str | None
    conflict: str
    gate: str
    device: str
    bridge: str
    at: datetime
    received_at: datetime
    offline: bool
    resolved_by: str | None
    resolved_at: datetime | None
    note: str | None


async def venues(conn: AsyncConnection) -> list[str]:
    return list((await conn.execute(select(VENUE.c.id).order_by(VENUE.c.id))).scalars())


async def listing(
    conn: AsyncConnection, venue_ids: list[str], *, open_only: bool = False, limit: int = LIMIT
) -> list[Conflict]:
    """Conflicts of these venues, newest first (each venue through its index)."""
    out: list[Conflict] = []
    for venue_id in venue_ids:
        stmt = (
            select(
                RED,
                TIX.c.order_id,
                RES.c.resolved_by,
                RES.c.resolved_at,
                RES.c.note.label("resolution_note"),
            )
            .select_from(
                RED.outerjoin(RES, RES.c.redemption_id == RED.c.id).outerjoin(
                    TIX, TIX.c.id == RED.c.ticket_id
                )
            )
            .where(RED.c.venue_id == venue_id, RED.c.conflict != "")
            .order_by(RED.c.received_at.desc(), RED.c.id)
            .limit(limit)
        )
        if open_only:
            stmt = stmt.where(RES.c.redemption_id.is_(None))
        for r in (await conn.execute(stmt)).all():
            out.append(
                Conflict(
                    id=r.id,
                    venue_id=r.venue_id,
                    ticket_id=r.ticket_id,
                    order_id=r.order_id,
                    conflict=r.conflict,
                    gate=r.gate,
                    device=r.device,
                    bridge=r.bridge,
                    at=r.at,
                    received_at=r.received_at,
                    offline=r.offline,
                    resolved_by=r.resolved_by,
                    resolved_at=r.resolved_at,
                    note=r.resolution_note,
                )
            )
    out.sort(key=lambda c: (c.received_at, c.id), reverse=True)
    return out[:limit]


async def resolve(
    conn: AsyncConnection,
    redemption_id: str,
    *,
    actor: str,
    note: str,
    now: datetime,
    remote: str,
) -> str:
    """Mark a conflict resolved with the supervisor's note, and audit it. Returns
    ``"resolved"``, ``"unknown"`` (no such conflict) or ``"already"`` (someone resolved
    it first: the first note stands)."""
    row = (
        await conn.execute(
            select(RED.c.id, RED.c.venue_id, RED.c.conflict, RED.c.ticket_id).where(
                RED.c.id == redemption_id
            )
        )
    ).first()
    if row is None or not row.conflict:
        return "unknown"
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    created = await conn.execute(
        insert(RES)
        .values(
            redemption_id=row.id,
            venue_id=row.venue_id,
            resolved_by=actor[:64],
            resolved_at=now,
            note=note[:NOTE_MAX],
        )
        .on_conflict_do_nothing(index_elements=[RES.c.redemption_id])
        .returning(RES.c.redemption_id)
    )
    if created.first() is None:
        return "already"
    await record(
        conn,
        now,
        actor=actor,
        action="conflict.resolve",
        target=f"redemption:{row.id}",
        before={"conflict": row.conflict, "ticket": row.ticket_id, "resolved": False},
        after={"resolved": True, "note": note[:NOTE_MAX]},
        remote=remote,
    )
    return "resolved"
