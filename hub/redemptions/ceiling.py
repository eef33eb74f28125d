"""The in-park ceiling (the venue's safety limit, ``venue.max_in_park``): how many are
inside, staff's correction of that count, and each bridge's share of the room left.

The gates decide at the bridges (`hardware_bridge.ceiling`), online and offline alike, so
the hub's part is to tell each bridge, at every sync round, the venue's in-park count
and the SHARE of the headroom (``max_in_park - in_park``) this bridge may admit before it
syncs again.

How the headroom is split — decision: in proportion to each bridge's admissions in the
last `RECENT` (one more for every bridge, so a quiet gate is never locked out), rounded
down. Why: a busy main gate needs most of the room and a side gate a little; an equal
split would refuse visitors at the busy gate while room sits unused at the quiet one.
Rounding down keeps the sum of the shares at or below the headroom at the moment it is
computed, and the headroom only shrinks by what the bridges admit and report (exits
grow it), so the bridges together never admit beyond the ceiling — also offline, when
each one goes on with its last share (plus its own exits). The cost is conservatism:
offline, a bridge does not see the other bridges' exits, and may refuse while the park
has room; staff then correct the count (``tickethub bridge count --set N``).

Weights move with the traffic, so a proportional share alone could overlap a share
granted earlier to another bridge under other weights. Each grant is therefore recorded
(``ceiling_grant``) and what another bridge was granted and has not yet reported using
(its admissions minus exits received since) is kept out of the asking bridge's share:
the sum of what all bridges may still admit never exceeds the headroom.

The bridges are those that uploaded a decision or were granted a share in the last
`KNOWN`, plus the asking one.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.storage.ceiling_tables import CeilingGrantRow, InParkCorrectionRow
from hub.storage.tables import FlowCountRow, RedemptionRow, VenueRow

RECENT = timedelta(minutes=15)
KNOWN = timedelta(hours=12)
FIX = InParkCorrectionRow.__table__
GRANT = CeilingGrantRow.__table__
FLOW = FlowCountRow.__table__
RED = RedemptionRow.__table__
VENUE = VenueRow.__table__


async def _flow(conn: AsyncConnection, venue_id: str, day: date) -> tuple[int, int]:
    row = (
        await conn.execute(
            select(FLOW.c.entries, FLOW.c.exits).where(
                FLOW.c.venue_id == venue_id, FLOW.c.day == day
            )
        )
    ).first()
    return (int(row.entries), int(row.exits)) if row else (0, 0)


async def in_park(conn: AsyncConnection, venue_id: str, day: date) -> int:
    """Entries minus exits of the day, from staff's last count when there is one."""
    entries, exits = await _flow(conn, venue_id, day)
    fix = (
        await conn.execute(select(FIX).where(FIX.c.venue_id == venue_id, FIX.c.day == day))
    ).first()
    if fix is None:
        return max(0, entries - exits)
    return max(0, fix.count + (entries - fix.entries) - (exits - fix.exits))


async def set_count(
    conn: AsyncConnection, venue_id: str, day: date, count: int, now: datetime
) -> None:
    """Staff counted ``count`` visitors inside now."""
    entries, exits = await _flow(conn, venue_id, day)
    values = {"count": count, "entries": entries, "exits": exits, "set_at": now}
    ins = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(FIX)
    await conn.execute(
        ins.values(venue_id=venue_id, day=day, **values).on_conflict_do_update(
            index_elements=[FIX.c.venue_id, FIX.c.day], set_=values
        )
    )


async def _used_since(conn: AsyncConnection, venue_id: str, bridge: str, since: datetime) -> int:
    """Entries minus exits a bridge reported after ``since`` (what it used of a grant)."""
    got = (
        await conn.execute(
            select(func.coalesce(func.sum(case((RED.c.direction == "in", 1), else_=-1)), 0)).where(
                RED.c.venue_id == venue_id,
                RED.c.bridge == bridge,
                RED.c.accepted.is_(True),
                RED.c.received_at > since,
            )
        )
    ).scalar()
    return int(got or 0)


async def shares(
    conn: AsyncConnection, venue_id: str, day: date, bridge: str, now: datetime
) -> dict[str, Any]:
    """Grant ``bridge`` its share (see the module doc) and say what it needs to keep the
    ceiling. Inside the caller's write transaction: the venue's row is locked first, so
    two bridges asking at once are granted one after the other."""
    stmt = select(VENUE.c.max_in_park).where(VENUE.c.id == venue_id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    maximum = (await conn.execute(stmt)).scalar()
    inside = await in_park(conn, venue_id, day)
    if not maximum:
        return {"max_in_park": None, "in_park": inside, "share": None}
    recent = (
        await conn.execute(
            select(
                RED.c.bridge,
                func.sum(
                    case(
                        (
                            and_(
                                RED.c.direction == "in",
                                RED.c.accepted.is_(True),
                                RED.c.at >= now - RECENT,
                            ),
                            1,
                        ),
                        else_=0,
                    )
                ),
            )
            .where(RED.c.venue_id == venue_id, RED.c.received_at >= now - KNOWN, RED.c.bridge != "")
            .group_by(RED.c.bridge)
        )
    ).all()
    grants = (
        await conn.execute(
            select(GRANT).where(GRANT.c.venue_id == venue_id, GRANT.c.granted_at >= now - KNOWN)
        )
    ).all()
    weights = {str(b): 1 + int(n or 0) for b, n in recent}
    for g in grants:
        weights.setdefault(g.bridge, 1)
    weights.setdefault(bridge, 1)
    headroom = max(0, int(maximum) - inside)
    # What the others were granted and have not reported using yet stays theirs.
    outstanding = 0
    for g in grants:
        if g.bridge != bridge:
            used = await _used_since(conn, venue_id, g.bridge, g.granted_at)
            outstanding += max(0, g.share - used)
    fair = headroom * weights[bridge] // sum(weights.values())
    share = max(0, min(fair, headroom - outstanding))
    if bridge:
        values = {"share": share, "granted_at": now}
        ins = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(GRANT)
        await conn.execute(
            ins.values(venue_id=venue_id, bridge=bridge, **values).on_conflict_do_update(
                index_elements=[GRANT.c.venue_id, GRANT.c.bridge], set_=values
            )
        )
    return {"max_in_park": int(maximum), "in_park": inside, "share": share}
