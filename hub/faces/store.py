"""The face table, in SQL. Functions on a connection, so the moves that must delete a face
(refund, cancellation, a visitor replaced) do it inside their own transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain import TicketState
from hub.storage.tables import FaceRow, TicketRow

FACE = FaceRow.__table__
TIX = TicketRow.__table__


async def upsert(conn: AsyncConnection, row: dict[str, Any]) -> bool:
    """Store (or replace) a ticket's face; True when one was there before."""
    had = (
        await conn.execute(select(FACE.c.version).where(FACE.c.ticket_id == row["ticket_id"]))
    ).first() is not None
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(FACE).values(**row)
    stmt = stmt.on_conflict_do_update(
        index_elements=[FACE.c.ticket_id],
        set_={k: stmt.excluded[k] for k in row if k != "ticket_id"},
    )
    await conn.execute(stmt)
    return had


async def forget(conn: AsyncConnection, ticket_ids: Iterable[str]) -> set[str]:
    """Delete the faces of these tickets; returns the tickets that had one."""
    ids = sorted(set(ticket_ids))
    gone: set[str] = set()
    for i in range(0, len(ids), 500):
        res = await conn.execute(
            delete(FACE).where(FACE.c.ticket_id.in_(ids[i : i + 500])).returning(FACE.c.ticket_id)
        )
        gone |= {str(r[0]) for r in res.all()}
    return gone


async def read(conn: AsyncConnection, ticket_id: str) -> Any:
    """The face row with its ticket's state and validity (one round trip for the bridge's
    read, which must not hand out the photo of a ticket that can no longer be used)."""
    stmt = (
        select(FACE, TIX.c.state, TIX.c.valid_until)
        .join(TIX, TIX.c.id == FACE.c.ticket_id)
        .where(FACE.c.ticket_id == ticket_id)
    )
    return (await conn.execute(stmt)).first()


async def purge(conn: AsyncConnection, now: datetime) -> set[str]:
    """Delete the faces whose visit is over: the ticket used up, revoked, or past its
    validity. Bridges drop their copies by the same rule, so no change is published.
    Driven from the (small) face table, never a scan of every ticket."""
    over = (
        select(FACE.c.ticket_id)
        .join(TIX, TIX.c.id == FACE.c.ticket_id)
        .where(or_(TIX.c.state != TicketState.VALID.value, TIX.c.valid_until <= now))
    )
    if conn.dialect.name == "postgresql":
        over = over.with_for_update(of=FACE, skip_locked=True)
    return await forget(conn, [str(r[0]) for r in (await conn.execute(over)).all()])
