"""The day report: per venue, channel, product and slot, what day D brought.

Day D is the venue's own calendar day (midnight to midnight in its timezone), and each
column counts what happened ON that day, which is what finance closes:

- ``orders``, ``tickets_sold``, ``gross``: orders paid (confirmed) during D, from their
  lines (an order with two products counts once under each); whatever happens to them
  later, a sale stays on the day it was made.
- ``refunded``, ``refunds``: tickets taken back (refund, or cancellation of a paid order)
  during D, at the price of their line. A visitor replaced on a group roster revokes one
  ticket and issues another in its place: that is no refund, so a chain of tickets for
  one visitor counts as refunded only when its last ticket is revoked.
- ``used``, ``not_shown``: tickets for visits ON day D (travel date D) that were used,
  and that are still valid and unused (for today: not shown yet).
- ``net`` = gross - refunds.

Each part is one indexed query per venue: sales by (venue_id, confirmed_at), refunds by
(venue_id, revoked_at) then the tickets of those orders by order id, visits by
(travel_date, slot). Lines are JSON, so the sums over them are made here, not in SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.orders.records import ORD, TIX
from hub.reconcile.money import yuan
from hub.storage.tables import VenueRow

VENUE = VenueRow.__table__
LIVE_ORDER_STATES = ("confirmed", "partly_redeemed", "redeemed")

Key = tuple[str, str, str, str]  # venue, channel, product, slot


@dataclass
class ReportRow:
    venue: str
    channel: str
    product: str
    slot: str
    orders: int = 0
    tickets_sold: int = 0
    refunded: int = 0
    used: int = 0
    not_shown: int = 0
    gross: int = 0  # fen
    refunds: int = 0  # fen

    @property
    def net(self) -> int:
        return self.gross - self.refunds

    def as_dict(self) -> dict[str, Any]:
        """Money in yuan with two decimals (the report's outside form)."""
        return {
            "venue": self.venue,
            "channel": self.channel,
            "product": self.product,
            "slot": self.slot,
            "orders": self.orders,
            "tickets_sold": self.tickets_sold,
            "refunded": self.refunded,
            "used": self.used,
            "not_shown": self.not_shown,
            "gross": yuan(self.gross),
            "refunds": yuan(self.refunds),
            "net": yuan(self.net),
        }


COUNTS = ("orders", "tickets_sold", "refunded", "used", "not_shown")
MONEY = ("gross", "refunds", "net")


@dataclass
class DayReport:
    day: date
    rows: list[ReportRow] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: sum(getattr(r, k) for r in self.rows) for k in COUNTS}
        for k in MONEY:
            out[k] = yuan(sum(getattr(r, k) for r in self.rows))
        return out

    def by_channel(self) -> dict[str, dict[str, Any]]:
        per: dict[str, list[ReportRow]] = defaultdict(list)
        for r in self.rows:
            per[r.channel].append(r)
        return {ch: DayReport(self.day, rows).totals() for ch, rows in sorted(per.items())}

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "rows": [r.as_dict() for r in self.rows],
            "by_channel": self.by_channel(),
            "totals": self.totals(),
        }


class UnknownVenue(LookupError):
    pass


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of the venue-local day, in UTC (23 or 25 hours long across a DST
    change, which `combine` with the zone gets right)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def _prices(lines: Iterable[dict[str, Any]]) -> dict[str, int]:
    return {str(ln["product_id"]): int(ln.get("unit_price") or 0) for ln in lines}


async def day_report(conn: AsyncConnection, day: date, venue: str | None = None) -> DayReport:
    stmt = select(VENUE.c.id, VENUE.c.timezone).order_by(VENUE.c.id)
    if venue is not None:
        stmt = stmt.where(VENUE.c.id == venue)
    venues = (await conn.execute(stmt)).all()
    if venue is not None and not venues:
        raise UnknownVenue(venue)
    rows: dict[Key, ReportRow] = {}

    def row(key: Key) -> ReportRow:
        if key not in rows:
            rows[key] = ReportRow(*key)
        return rows[key]

    for v in venues:
        start, end = day_bounds(day, v.timezone)
        await _sales(conn, v.id, start, end, row)
        await _refunds(conn, v.id, start, end, row)
        await _visits(conn, v.id, day, row)
    return DayReport(day, [rows[k] for k in sorted(rows)])


def sales_query(venue: str, start: datetime, end: datetime) -> Select[Any]:
    """Orders paid in [start, end): index ix_orders_venue_confirmed."""
    return select(ORD.c.id, ORD.c.channel, ORD.c.slot, ORD.c.lines).where(
        ORD.c.venue_id == venue, ORD.c.confirmed_at >= start, ORD.c.confirmed_at < end
    )


def revoked_query(venue: str, start: datetime, end: datetime) -> Select[Any]:
    """Orders with a ticket revoked in [start, end): index ix_ticket_venue_revoked."""
    return (
        select(TIX.c.order_id)
        .where(TIX.c.venue_id == venue, TIX.c.revoked_at >= start, TIX.c.revoked_at < end)
        .distinct()
    )


def visits_query(venue: str, day: date) -> Select[Any]:
    """Live tickets of the day's visits: index ix_orders_day (travel_date, slot)."""
    return (
        select(ORD.c.channel, ORD.c.slot, TIX.c.product_id, TIX.c.units, TIX.c.entries_used)
        .join(TIX, TIX.c.order_id == ORD.c.id)
        .where(
            ORD.c.travel_date == day,
            ORD.c.venue_id == venue,
            ORD.c.state.in_(LIVE_ORDER_STATES),
            TIX.c.state != "revoked",
        )
    )


async def _sales(
    conn: AsyncConnection, venue: str, start: datetime, end: datetime, row: Any
) -> None:
    result = await conn.execute(sales_query(venue, start, end))
    for o in result:
        for product in {str(ln["product_id"]) for ln in o.lines}:
            row((venue, o.channel, product, o.slot)).orders += 1
        for ln in o.lines:
            r = row((venue, o.channel, str(ln["product_id"]), o.slot))
            qty = int(ln["quantity"])
            r.tickets_sold += qty
            r.gross += qty * int(ln.get("unit_price") or 0)


async def _refunds(
    conn: AsyncConnection, venue: str, start: datetime, end: datetime, row: Any
) -> None:
    revoked_orders = revoked_query(venue, start, end).scalar_subquery()
    result = await conn.execute(
        select(
            TIX.c.order_id,
            TIX.c.product_id,
            TIX.c.visitor_index,
            TIX.c.units,
            TIX.c.state,
            TIX.c.revoked_at,
            ORD.c.channel,
            ORD.c.slot,
            ORD.c.lines,
        )
        .join(ORD, ORD.c.id == TIX.c.order_id)
        .where(TIX.c.order_id.in_(revoked_orders), ORD.c.confirmed_at.is_not(None))
    )
    chains: dict[tuple[str, str, int], list[Any]] = defaultdict(list)
    for t in result:
        if t.visitor_index is None:  # no roster to replace on: a revocation is a refund
            if t.revoked_at is not None and start <= t.revoked_at < end:
                _refund(row, venue, t)
        else:
            chains[(t.order_id, t.product_id, t.visitor_index)].append(t)
    for chain in chains.values():
        if any(t.revoked_at is None for t in chain):
            continue  # the visitor's current ticket is live: earlier ones were replaced
        last = max(chain, key=lambda t: t.revoked_at)
        if start <= last.revoked_at < end:
            _refund(row, venue, last)


def _refund(row: Any, venue: str, t: Any) -> None:
    r = row((venue, t.channel, t.product_id, t.slot))
    r.refunded += t.units
    r.refunds += t.units * _prices(t.lines).get(t.product_id, 0)


async def _visits(conn: AsyncConnection, venue: str, day: date, row: Any) -> None:
    result = await conn.execute(visits_query(venue, day))
    for t in result:
        r = row((venue, t.channel, t.product_id, t.slot))
        if t.entries_used > 0:
            r.used += t.units
        else:
            r.not_shown += t.units
