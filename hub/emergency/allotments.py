"""Emergency allotments: a share of a slot set aside for one bridge's box office.

It is an inventory bucket (``emergency:<bridge id>``) taken from the common bucket in
advance by the same conditional update as a channel allotment
(`hub.inventory.admin.set_allotment`), so nothing already held or sold can be promised
to a bridge and the OTAs' stock drops at once (stock-dirty marks). No online channel
sells from it; only the bridge's synced emergency orders do (`hub.emergency.intake`).
What the bridge did not sell goes back to the common bucket when the slot has ended
(`give_back_ended`).

The same units are set aside in the whole-day cap in the same transaction, and given
back with the slot's (`hub.emergency.capreserve` says why and how).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain import SlotInfo
from hub.domain.errors import DeniedError
from hub.emergency import CHANNEL, bucket_of, capreserve
from hub.inventory import admin as inventory
from hub.inventory import daycap
from hub.inventory.marks import mark_cells
from hub.inventory.sold import lock_cells
from hub.storage.tables import InventoryRow

INV = InventoryRow.__table__
C = INV.c
PREFIX = CHANNEL + ":"
_DAY = timedelta(days=1)


def slot_end(day: date, slot: str, tz: ZoneInfo) -> datetime:
    """When a slot of a day ends (the whole day ends at midnight)."""
    info = SlotInfo.parse(slot)
    if not slot:
        return datetime.combine(day, time(0), tz) + _DAY
    return datetime.combine(day, info.end, tz)


async def set_emergency_allotment(
    conn: AsyncConnection,
    *,
    pool: str,
    day: date,
    slot: str,
    bridge_id: str,
    quantity: int,
    tz: ZoneInfo,
    now: datetime,
    on_changed: inventory.CapacityListener | None = None,
) -> int:
    if slot_end(day, slot, tz) <= now:
        raise DeniedError.of(
            "SLOT_ENDED", f"{day} {slot or 'all day'} has ended: nothing to set aside"
        )
    bucket = bucket_of(bridge_id)
    caps = await capreserve.cap_pools_of(conn, pool)
    await lock_cells(conn, [(pool, day, slot)] + [(c, day, "") for c in caps])
    old = (
        await conn.execute(
            select(C.capacity).where(
                C.pool == pool, C.day == day, C.slot == slot, C.bucket == bucket
            )
        )
    ).scalar()
    changed = await inventory.set_allotment(
        conn,
        pool=pool,
        days=[day],
        slot=slot,
        channel=bucket,
        quantity=quantity,
        fallback=False,
        on_changed=on_changed,
    )
    # After the slot's own checks, so a refusal there names the slot; a cap refusal
    # raises and the caller's transaction drops the slot's change too.
    delta = quantity - int(old or 0)
    if delta > 0:
        await capreserve.reserve(conn, caps, day, bucket, delta)
    elif delta < 0:
        await capreserve.release(conn, caps, day, bucket, -delta)
    return changed


async def allotments_of(
    conn: AsyncConnection, pools: list[str], bridge_id: str, since: date
) -> list[dict[str, Any]]:
    """The bridge's allotments from `since` on: what its box office may sell offline."""
    if not pools:
        return []
    rows = (
        await conn.execute(
            select(C.pool, C.day, C.slot, C.capacity, C.held, C.sold)
            .where(C.pool.in_(pools), C.bucket == bucket_of(bridge_id), C.day >= since)
            .order_by(C.day, C.slot, C.pool)
        )
    ).all()
    return [
        {
            "pool": r.pool,
            "day": r.day.isoformat(),
            "slot": r.slot,
            "quantity": int(r.capacity),
            "sold_at_hub": int(r.held) + int(r.sold),
        }
        for r in rows
    ]


async def give_back_ended(conn: AsyncConnection, now: datetime, tz_of: Any) -> int:
    """Return the unsold units of every emergency allotment whose slot has ended to the
    common bucket of that slot (the allotment keeps exactly what its bridge sold), and
    the same units of the day cap it reserved (`hub.emergency.capreserve`).
    `tz_of(pool)` is the timezone of the pool's venue. Returns units given back."""
    rows = (
        await conn.execute(
            select(C.id, C.pool, C.day, C.slot, C.bucket, C.capacity, C.held, C.sold).where(
                C.bucket.like(PREFIX + "%"),
                C.pool.notlike(daycap.CAP_PREFIX + "%"),  # the caps' reservations follow
                C.capacity > C.held + C.sold,
                C.day <= now.date(),
            )
        )
    ).all()
    given = 0
    marks: list[tuple[str, date, str]] = []
    caps_of: dict[str, list[str]] = {}
    for r in rows:
        tz = await tz_of(r.pool)
        if tz is None or slot_end(r.day, r.slot, tz) > now:
            continue
        if r.pool not in caps_of:
            caps_of[r.pool] = await capreserve.cap_pools_of(conn, r.pool)
        await lock_cells(
            conn, [(r.pool, r.day, r.slot)] + [(c, r.day, "") for c in caps_of[r.pool]]
        )
        spare = int(r.capacity) - int(r.held) - int(r.sold)
        res = await conn.execute(
            update(INV)
            .where(C.id == r.id, C.capacity - C.held - C.sold >= spare)
            .values(capacity=C.capacity - spare)
        )
        if res.rowcount != 1:
            continue  # sold meanwhile: the next round looks again
        await conn.execute(
            update(INV)
            .where(C.pool == r.pool, C.day == r.day, C.slot == r.slot, C.bucket == "")
            .values(capacity=C.capacity + spare)
        )
        await capreserve.release(conn, caps_of[r.pool], r.day, r.bucket, spare)
        given += spare
        marks.append((r.pool, r.day, r.slot))
    await mark_cells(conn, marks)
    return given
