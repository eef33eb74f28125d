"""Deltas of the flow wall's counters, collected during a transaction and written at its
end (`FlowDelta.flush`), in the same transaction as the rows they count.

Why at the end, in one sorted order: on PostgreSQL an upsert locks its row until commit,
and these rows are shared by every transaction of a venue (and of a channel). Taken last,
the lock is held only for the commit, and taken in one global order (table, then key)
two transactions can never wait on each other in a cycle. Every writer reaches this
point after its own locks (orders, tickets, inventory, the venue's change counter), so
the counters add no new lock order. Partner calls keep their own counter
(`hub.outbox.counts`), written where the call is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.storage.flow_tables import FlowGateRow, FlowSalesRow, FlowSlotRow

GATE = FlowGateRow.__table__
SLOT = FlowSlotRow.__table__
SALES = FlowSalesRow.__table__
BUCKET_MINUTES = 5
SALES_FIELDS = ("orders", "tickets", "amount", "refunded_tickets", "refunded_amount")


def bucket_of(at: datetime, tz: ZoneInfo) -> tuple[date, int]:
    """The venue-local day and 5-minute bucket (minutes after midnight) of a moment."""
    local = at.astimezone(tz)
    minute = local.hour * 60 + local.minute
    return local.date(), minute - minute % BUCKET_MINUTES


class FlowDelta:
    """What one transaction adds to the counters. Cheap to build, empty ones write
    nothing."""

    def __init__(self) -> None:
        self.gates: dict[tuple[str, date, int, str], list[int]] = defaultdict(lambda: [0, 0])
        self.slots: dict[tuple[str, date, str], list[int]] = defaultdict(lambda: [0, 0])
        self.sales: dict[tuple[str, date, str], list[int]] = defaultdict(lambda: [0] * 5)
        self.venues: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.gates or self.slots or self.sales)

    # -- what happened ---------------------------------------------------------------------
    def passage(self, venue_id: str, at: datetime, tz: ZoneInfo, gate: str, *, entry: bool) -> None:
        """A counted entry (or exit) at a gate."""
        day, minute = bucket_of(at, tz)
        self.gates[(venue_id, day, minute, gate)][0 if entry else 1] += 1
        self.venues.add(venue_id)

    def slot(self, venue_id: str, day: date, slot: str, *, sold: int = 0, arrived: int = 0) -> None:
        row = self.slots[(venue_id, day, slot)]
        row[0] += sold
        row[1] += arrived
        self.venues.add(venue_id)

    def sale(
        self,
        venue_id: str,
        day: date,
        channel: str,
        *,
        orders: int = 0,
        tickets: int = 0,
        amount: int = 0,
        refunded_tickets: int = 0,
        refunded_amount: int = 0,
    ) -> None:
        row = self.sales[(venue_id, day, channel)]
        for i, n in enumerate((orders, tickets, amount, refunded_tickets, refunded_amount)):
            row[i] += n
        self.venues.add(venue_id)

    def confirmed(
        self,
        *,
        venue_id: str,
        channel: str,
        travel_date: date,
        slot: str,
        amount: int,
        units: int,
        at: datetime,
        tz: ZoneInfo,
    ) -> None:
        """An order became sold (tickets issued): a sale today, units sold in its slot."""
        self.sale(
            venue_id, at.astimezone(tz).date(), channel, orders=1, tickets=units, amount=amount
        )
        self.slot(venue_id, travel_date, slot, sold=units)

    def given_back(
        self,
        *,
        venue_id: str,
        channel: str,
        travel_date: date,
        slot: str,
        units: int,
        amount: int,
        at: datetime,
        tz: ZoneInfo,
    ) -> None:
        """Tickets refunded or cancelled: money and units back today, units leave the slot."""
        if not units and not amount:
            return
        day = at.astimezone(tz).date()
        self.sale(venue_id, day, channel, refunded_tickets=units, refunded_amount=amount)
        self.slot(venue_id, travel_date, slot, sold=-units)

    # -- writing ---------------------------------------------------------------------------
    async def flush(self, conn: AsyncConnection) -> None:
        """Add the deltas to their rows (the last writes of the transaction)."""
        gates = [
            {"venue_id": v, "day": d, "minute": m, "gate": g, "entries": e, "exits": x}
            for (v, d, m, g), (e, x) in sorted(self.gates.items())
            if e or x
        ]
        slots = [
            {"venue_id": v, "day": d, "slot": s, "sold": n, "arrived": a}
            for (v, d, s), (n, a) in sorted(self.slots.items())
            if n or a
        ]
        sales = [
            {"venue_id": v, "day": d, "channel": c, **dict(zip(SALES_FIELDS, n, strict=True))}
            for (v, d, c), n in sorted(self.sales.items())
            if any(n)
        ]
        await add(conn, GATE, gates, ("entries", "exits"))
        await add(conn, SALES, sales, SALES_FIELDS)
        await add(conn, SLOT, slots, ("sold", "arrived"))


_UPSERTS: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def _upsert(dialect_name: str, table: Table, fields: tuple[str, ...]) -> Any:
    """The adding upsert of `add`, built once per (dialect, table, fields): constructing
    it (``excluded``, the SET clause) cost more than executing it, for every batch."""
    key = (dialect_name, table.name, fields)
    stmt = _UPSERTS.get(key)
    if stmt is None:
        ins = (postgresql if dialect_name == "postgresql" else sqlite).insert(table)
        stmt = ins.on_conflict_do_update(
            index_elements=list(table.primary_key.columns),
            set_={f: table.c[f] + ins.excluded[f] for f in fields},
        )
        _UPSERTS[key] = stmt
    return stmt


async def add(
    conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], fields: Iterable[str]
) -> None:
    """``INSERT … ON CONFLICT (primary key) DO UPDATE SET f = f + excluded.f`` for each
    row, as one executemany."""
    if not rows:
        return
    name = "postgresql" if conn.dialect.name == "postgresql" else "sqlite"
    await conn.execute(_upsert(name, table, tuple(fields)), rows)


def units_of(tickets: Iterable[Mapping[str, Any]]) -> int:
    """Units of ticket rows (a group ticket admits ``units`` people)."""
    return sum(int(t.get("units", 1) or 1) for t in tickets)
