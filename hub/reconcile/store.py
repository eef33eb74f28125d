"""Statements and discrepancies in the database, and what people do with them.

An import is ONE transaction: the statement row (unique on its content hash) and every
discrepancy it found (insert-if-absent on channel, day, kind and line reference) — so a
refused or failed import leaves nothing, the same statement imported twice changes
nothing, and a corrected statement for the same day adds only what is new (what staff
already acknowledged keeps its state and notes).

A discrepancy moves open -> acknowledged -> resolved (or open -> resolved), each move by
a named person with a note; who, when and the note are kept on the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.reconcile.matching import KINDS, Found
from hub.reconcile.money import yuan
from hub.storage.reconcile_tables import DiscrepancyRow, StatementRow

STMT = StatementRow.__table__
DISC = DiscrepancyRow.__table__
STATES = ("open", "acknowledged", "resolved")
NOTE_MAX = 500


class NotFound(LookupError):
    pass


class BadMove(ValueError):
    """A move the discrepancy's state does not allow (resolving twice, acking a resolved
    one) or without a person / note."""


@dataclass(frozen=True, slots=True)
class Imported:
    statement_id: int
    already: bool  # this exact statement was imported before: nothing changed
    lines: int
    found: int  # discrepancies the matching found
    new: int  # of which not already on record

    def as_dict(self) -> dict[str, Any]:
        return {
            "statement_id": self.statement_id,
            "already_imported": self.already,
            "lines": self.lines,
            "discrepancies_found": self.found,
            "discrepancies_new": self.new,
        }


def _insert(conn: AsyncConnection, table: Any) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


async def save_import(
    engine: AsyncEngine,
    *,
    channel: str,
    day: date,
    merchant: str,
    sha256: str,
    lines: int,
    totals: dict[str, Any],
    found: list[Found],
    by: str,
    now: datetime,
) -> Imported:
    async with engine.begin() as conn:
        known = (await conn.execute(select(STMT.c.id).where(STMT.c.sha256 == sha256))).scalar()
        if known is not None:
            return Imported(int(known), True, lines, len(found), 0)
        # Two imports of one file at once: the second waits on the first's row, then
        # inserts nothing and reads it as already imported (no IntegrityError, no 500).
        statement_id = (
            await conn.execute(
                _insert(conn, STMT)
                .on_conflict_do_nothing(index_elements=["sha256"])
                .values(
                    channel=channel,
                    day=day,
                    merchant=merchant,
                    sha256=sha256,
                    lines=lines,
                    totals=totals,
                    discrepancies=0,
                    imported_by=by,
                    imported_at=now,
                )
                .returning(STMT.c.id)
            )
        ).scalar()
        if statement_id is None:
            known = (await conn.execute(select(STMT.c.id).where(STMT.c.sha256 == sha256))).scalar()
            return Imported(int(known or 0), True, lines, len(found), 0)
        new = 0
        rows = [
            {
                "channel": channel,
                "day": day,
                "kind": f.kind,
                "rule": f.rule,
                "ref": f.ref[:200],
                "order_id": f.order_id,
                "hub_amount": f.hub_amount,
                "partner_amount": f.partner_amount,
                "detail": f.detail[:500],
                "statement_id": statement_id,
                "state": "open",
                "found_at": now,
            }
            for f in found
        ]
        for i in range(0, len(rows), 500):
            ins = _insert(conn, DISC).on_conflict_do_nothing(
                index_elements=["channel", "day", "kind", "ref"]
            )
            res = await conn.execute(ins.returning(DISC.c.id), rows[i : i + 500])
            new += len(res.all())
        await conn.execute(update(STMT).where(STMT.c.id == statement_id).values(discrepancies=new))
    return Imported(int(statement_id), False, lines, len(found), new)


def as_json(r: Any) -> dict[str, Any]:
    def money(v: int | None) -> str | None:
        return None if v is None else yuan(v)

    def when(v: datetime | None) -> str | None:
        return None if v is None else v.isoformat()

    return {
        "id": r.id,
        "channel": r.channel,
        "date": r.day.isoformat(),
        "kind": r.kind,
        "rule": r.rule,
        "ref": r.ref,
        "order_id": r.order_id,
        "hub_amount": money(r.hub_amount),
        "partner_amount": money(r.partner_amount),
        "detail": r.detail,
        "state": r.state,
        "found_at": when(r.found_at),
        "acknowledged": {"by": r.acked_by, "at": when(r.acked_at), "note": r.ack_note}
        if r.acked_by
        else None,
        "resolved": {"by": r.resolved_by, "at": when(r.resolved_at), "note": r.resolve_note}
        if r.resolved_by
        else None,
    }


async def listing(
    conn: AsyncConnection,
    *,
    day: date | None = None,
    channel: str | None = None,
    state: str | None = None,
    kind: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    if state is not None and state not in STATES:
        raise BadMove(f"state is one of {', '.join(STATES)}")
    if kind is not None and kind not in KINDS:
        raise BadMove(f"kind is one of {', '.join(KINDS)}")
    stmt = select(DISC).order_by(DISC.c.day, DISC.c.id).limit(limit)
    for col, value in ((DISC.c.day, day), (DISC.c.channel, channel), (DISC.c.state, state)):
        if value is not None:
            stmt = stmt.where(col == value)
    if kind is not None:
        stmt = stmt.where(DISC.c.kind == kind)
    return [as_json(r) for r in await conn.execute(stmt)]


async def counts(conn: AsyncConnection, day: date, channel: str) -> dict[str, int]:
    res = await conn.execute(
        select(DISC.c.kind, func.count())
        .where(DISC.c.day == day, DISC.c.channel == channel)
        .group_by(DISC.c.kind)
    )
    return {str(k): int(n) for k, n in res.all()}


async def move(
    engine: AsyncEngine, disc_id: int, to: str, *, by: str, note: str, now: datetime
) -> dict[str, Any]:
    """Acknowledge (``to="acknowledged"``) or resolve (``to="resolved"``) one discrepancy;
    the state guard in the UPDATE makes two people's concurrent moves one winner."""
    async with engine.begin() as conn:
        return await move_in(conn, disc_id, to, by=by, note=note, now=now)


async def move_in(
    conn: AsyncConnection, disc_id: int, to: str, *, by: str, note: str, now: datetime
) -> dict[str, Any]:
    """`move` inside the caller's transaction (the console writes its audit line in the
    same one); the row as it is after the move."""
    by, note = by.strip(), note.strip()
    if not by or not note:
        raise BadMove("who (--by) and a note (--note) are both required")
    if len(by) > 64 or len(note) > NOTE_MAX:
        raise BadMove(f"by is at most 64 characters, note at most {NOTE_MAX}")
    if to == "acknowledged":
        allowed, values = ("open",), {"acked_by": by, "acked_at": now, "ack_note": note}
    elif to == "resolved":
        allowed = ("open", "acknowledged")
        values = {"resolved_by": by, "resolved_at": now, "resolve_note": note}
    else:
        raise BadMove(f"unknown move {to!r}")
    res = await conn.execute(
        update(DISC)
        .where(DISC.c.id == disc_id, DISC.c.state.in_(allowed))
        .values(state=to, **values)
    )
    row = (await conn.execute(select(DISC).where(DISC.c.id == disc_id))).first()
    if row is None:
        raise NotFound(f"no discrepancy {disc_id}")
    if res.rowcount != 1:
        raise BadMove(f"discrepancy {disc_id} is {row.state}; it cannot become {to}")
    return as_json(row)
