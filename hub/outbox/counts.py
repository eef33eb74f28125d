"""The outbox backlog as counters (``outbox_count``: partner × state → calls), moved by
the same statement's transaction that moves the calls (`hub.outbox.store`), so the flow
wall and health pages read a handful of rows instead of counting the outbox.

Only the backlog states are kept (pending, inflight, dead); ``done`` calls are history.
Rows are written in sorted (partner, state) order so two transactions never wait on
each other in a cycle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.storage.flow_tables import OutboxCountRow
from hub.wall.counters import add

COUNT = OutboxCountRow.__table__
KEPT = ("pending", "inflight", "dead")


class Moves(Counter[tuple[str, str]]):
    """(partner, state) → change in the number of calls."""

    def move(self, partner: str, src: str | None, dst: str | None, n: int = 1) -> None:
        if src == dst:
            return
        if src in KEPT:
            self[(partner, src)] -= n
        if dst in KEPT:
            self[(partner, dst)] += n


async def apply(conn: AsyncConnection, moves: Moves) -> None:
    rows = [{"partner": p, "state": s, "n": n} for (p, s), n in sorted(moves.items()) if n != 0]
    await add(conn, COUNT, rows, ("n",))


async def backlog(conn: AsyncConnection) -> dict[str, dict[str, int]]:
    """partner → state → calls, from the counters (states with none left out)."""
    out: dict[str, dict[str, int]] = {}
    for partner, state, n in (
        await conn.execute(select(COUNT.c.partner, COUNT.c.state, COUNT.c.n))
    ).all():
        if n:
            out.setdefault(partner, {})[state] = int(n)
    return out


def moves_of(rows: Iterable[tuple[str, str]], dst: str) -> Moves:
    """Moves of calls given as (partner, old state) rows, all to ``dst``."""
    moves = Moves()
    for partner, src in rows:
        moves.move(partner, src, dst)
    return moves
