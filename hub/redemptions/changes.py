"""Ticket change sequence: every change to a ticket gets a per-venue number so a venue
bridge can ask "what changed since N" and never miss a change.

Why a counter row: transactions commit in an order nobody chooses. If a change number
were taken early in a transaction (or from a database sequence), a transaction holding
number 7 could commit after one holding 8, and a bridge that had already read up to 8
would skip 7 forever. Here the number comes from ``UPDATE venue_change SET seq = seq + 1
… RETURNING seq`` done as the LAST step of the changing transaction: on PostgreSQL that
row stays locked until commit, so the next transaction of the same venue waits and gets
a larger number only after this one is visible; SQLite has a single writer anyway.
Holding the lock from that update to the commit is microseconds of work, so order
intake does not collapse behind it (`tickethub bench orders` measures it).

All tickets a transaction changes share one number; the cursor is ``(seq, ticket id)``
so pages can split a large transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, MutableMapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.storage.tables import TicketRow, VenueChangeRow

SEQ = VenueChangeRow.__table__
TIX = TicketRow.__table__


async def next_seq(conn: AsyncConnection, venue_id: str) -> int:
    """Take the venue's next change number (locks the venue's counter until commit)."""
    stmt = (
        update(SEQ).where(SEQ.c.venue_id == venue_id).values(seq=SEQ.c.seq + 1).returning(SEQ.c.seq)
    )
    got = (await conn.execute(stmt)).scalar_one_or_none()
    if got is not None:
        return int(got)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    await conn.execute(
        dialect.insert(SEQ).values(venue_id=venue_id, seq=0).on_conflict_do_nothing()
    )
    return int((await conn.execute(stmt)).scalar_one())


async def stamp_rows(conn: AsyncConnection, rows: Iterable[MutableMapping[str, Any]]) -> None:
    """Give ticket rows about to be inserted their venue's next change number."""
    by_venue: dict[str, list[MutableMapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_venue[row["venue_id"]].append(row)
    for venue_id in sorted(by_venue):  # one lock order for every transaction
        seq = await next_seq(conn, venue_id)
        for row in by_venue[venue_id]:
            row["change_seq"] = seq


async def stamp_ids(conn: AsyncConnection, venue_of: dict[str, str]) -> None:
    """Give already written tickets (id → venue) their venue's next change number."""
    by_venue: dict[str, list[str]] = defaultdict(list)
    for ticket_id, venue_id in venue_of.items():
        by_venue[venue_id].append(ticket_id)
    for venue_id in sorted(by_venue):
        seq = await next_seq(conn, venue_id)
        await conn.execute(
            update(TIX).where(TIX.c.id.in_(sorted(by_venue[venue_id]))).values(change_seq=seq)
        )
