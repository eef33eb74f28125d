"""The venue's gate → attraction map, read and replaced (`hub.domain.combo`).

Staff set it through the admin API; bridges receive it with their config (``gates``),
so a combo's part is chosen the same way online and offline."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.storage.combo_tables import GateAttractionRow

GATES = GateAttractionRow.__table__


async def gate_map(conn: AsyncConnection, venue_id: str) -> dict[str, str]:
    rows = await conn.execute(
        select(GATES.c.gate, GATES.c.attraction)
        .where(GATES.c.venue_id == venue_id)
        .order_by(GATES.c.gate)
    )
    return {str(g): str(a) for g, a in rows.all()}


async def set_gate_map(conn: AsyncConnection, venue_id: str, gates: Mapping[str, str]) -> None:
    """Replace the venue's map as a whole (one transaction: a bridge never reads half)."""
    await conn.execute(delete(GATES).where(GATES.c.venue_id == venue_id))
    if gates:
        await conn.execute(
            insert(GATES),
            [{"venue_id": venue_id, "gate": g, "attraction": a} for g, a in sorted(gates.items())],
        )
