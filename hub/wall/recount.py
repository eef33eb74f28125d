"""The flow wall's counters recounted from the rows they count.

Used twice: migration 0010 fills the counters of an existing database from its orders,
tickets, redemptions and partner calls; the tests compare the counters the writes kept
with this recount after a mixed sequence. It reads whole tables, so it is for those two
and never for a page.

Definitions (the same as the writes keep, `hub.wall.counters`):

- ``flow_gate``: redemptions that counted (``counted``), by the venue-local day and
  5-minute bucket of ``at``, gate, direction;
- ``flow_slot``: per order's venue, travel date and slot: ``sold`` = units of live
  (not revoked) tickets, ``arrived`` = units of live tickets with an entry;
- ``flow_sales``: per venue, channel and venue-local day of ``confirmed_at``: orders,
  units issued at confirmation (the order's plan; paper tickets: their tickets), amount;
  per day of ``revoked_at``: units and money (line unit price × units) of revoked
  tickets, except those replaced by a new visitor's ticket (`hub.orders.amend`: the
  order still has a live ticket for the same product and visitor index);
- ``outbox_count``: calls per partner in pending, inflight, dead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.outbox.counts import COUNT, KEPT
from hub.storage.tables import OrderRow, OutboxRow, RedemptionRow, TicketRow, VenueRow
from hub.wall.counters import GATE, SALES, SALES_FIELDS, SLOT, bucket_of

Counts = dict[str, dict[tuple[Any, ...], tuple[int, ...]]]
V, ORD, T, R, OB = (
    VenueRow.__table__.c,
    OrderRow.__table__.c,
    TicketRow.__table__.c,
    RedemptionRow.__table__.c,
    OutboxRow.__table__.c,
)
TABLES = {"flow_gate": GATE, "flow_slot": SLOT, "flow_sales": SALES, "outbox_count": COUNT}
VALUES = {
    "flow_gate": ("entries", "exits"),
    "flow_slot": ("sold", "arrived"),
    "flow_sales": SALES_FIELDS,
    "outbox_count": ("n",),
}


def queries() -> list[Select[Any]]:
    return [
        select(V.id, V.timezone),
        select(R.venue_id, R.gate, R.direction, R.at).where(R.counted.is_(True)),
        select(
            ORD.id,
            ORD.venue_id,
            ORD.channel,
            ORD.travel_date,
            ORD.slot,
            ORD.amount,
            ORD.confirmed_at,
            ORD.lines,
            ORD.extra,
        ).where(ORD.confirmed_at.is_not(None)),
        select(
            T.order_id,
            T.product_id,
            T.visitor_index,
            T.units,
            T.entries_used,
            T.state,
            T.revoked_at,
        ),
        select(OB.partner, OB.state).where(OB.state.in_(KEPT)),
    ]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def compute(results: Sequence[Sequence[Any]]) -> Counts:
    """The counters from the rows `queries` read."""
    venues, passages, orders, tickets, calls = results
    tz = defaultdict(lambda: ZoneInfo("Asia/Shanghai"), {v: _zone(z) for v, z in venues})
    gates: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for venue_id, gate, direction, at in passages:
        day, minute = bucket_of(at, tz[venue_id])
        gates[(venue_id, day, minute, gate)][0 if direction == "in" else 1] += 1

    by_order: dict[str, list[Any]] = defaultdict(list)
    for t in tickets:
        by_order[t.order_id].append(t)
    slots: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    sales: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * 5)
    for o in orders:
        zone = tz[o.venue_id]
        own = by_order.get(o.id, [])
        plan = (o.extra or {}).get("plan")
        units = sum(int(p[3]) for p in plan["tickets"]) if plan else sum(t.units for t in own)
        sale = sales[(o.venue_id, o.confirmed_at.astimezone(zone).date(), o.channel)]
        sale[0] += 1
        sale[1] += units
        sale[2] += o.amount
        prices = {line["product_id"]: line.get("unit_price") or 0 for line in o.lines}
        live = {(t.product_id, t.visitor_index) for t in own if t.state != "revoked"}
        slot = slots[(o.venue_id, o.travel_date, o.slot)]
        for t in own:
            if t.state != "revoked":
                slot[0] += t.units
                slot[1] += t.units if t.entries_used > 0 else 0
            elif t.visitor_index is None or (t.product_id, t.visitor_index) not in live:
                back = sales[(o.venue_id, t.revoked_at.astimezone(zone).date(), o.channel)]
                back[3] += t.units
                back[4] += prices.get(t.product_id, 0) * t.units

    outbox: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0])
    for partner, state in calls:
        outbox[(partner, state)][0] += 1
    return {
        "flow_gate": _nonzero(gates),
        "flow_slot": _nonzero(slots),
        "flow_sales": _nonzero(sales),
        "outbox_count": _nonzero(outbox),
    }


def _nonzero(d: dict[tuple[Any, ...], list[int]]) -> dict[tuple[Any, ...], tuple[int, ...]]:
    return {k: tuple(v) for k, v in d.items() if any(v)}


def as_rows(counts: Counts) -> dict[str, list[dict[str, Any]]]:
    """The recount as rows to insert, per table."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, values in counts.items():
        table = TABLES[name]
        keys = [c.name for c in table.primary_key.columns]
        out[name] = [
            {**dict(zip(keys, k, strict=True)), **dict(zip(VALUES[name], v, strict=True))}
            for k, v in sorted(values.items())
        ]
    return out


async def recount(conn: AsyncConnection) -> Counts:
    return compute([(await conn.execute(q)).all() for q in queries()])


async def counters(conn: AsyncConnection) -> Counts:
    """What the counter tables hold now, in the shape of `recount` (zero rows left out)."""
    out: Counts = {}
    for name, table in TABLES.items():
        keys = list(table.primary_key.columns)
        vals = [table.c[f] for f in VALUES[name]]
        rows = (await conn.execute(select(*keys, *vals))).all()
        n = len(keys)
        out[name] = {
            tuple(_plain(x) for x in r[:n]): tuple(int(x) for x in r[n:])
            for r in rows
            if any(r[n:])
        }
    return out


def _plain(x: Any) -> Any:
    return x if not isinstance(x, date) else date(x.year, x.month, x.day)
