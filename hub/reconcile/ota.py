"""Match an OTA's settlement file against the hub's orders of that channel and day.

The partner's order id IS the hub order's ``partner_order_id`` (every OTA adapter keys
intake on it). Rules, each named ``<channel>.<rule>`` like WeChat's:

- ``line.repeated`` (duplicate): the same order twice in the file;
- ``order.not_in_hub`` (partner_only): the partner settles an order the hub never sold;
- ``order.hub_unpaid`` (status_mismatch): the hub's order was never confirmed;
- ``order.amount`` (amount_mismatch): the partner's order amount is not the hub's;
- ``order.state`` (status_mismatch): paid / refunded / used differ;
- ``order.other_day`` / ``order.crossed_midnight``: confirmed on another day in the hub
  (within the window of midnight: a timing difference that clears the next day);
- ``order.not_at_partner`` (hub_only) / ``order.clears_next_day`` (crossed_midnight):
  confirmed on the day in the hub, absent from the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.orders.records import ORD
from hub.reconcile.hubside import _chunks
from hub.reconcile.matching import Day, Found, HubPayment
from hub.reconcile.settlement import SettlementLine

HUB_STATE = {
    "confirmed": "paid",
    "partly_redeemed": "used",
    "redeemed": "used",
    "refunded": "refunded",
    "cancelled": "refunded",
}


def local_day(day: date, zone: str, window: timedelta) -> Day:
    start = datetime.combine(day, time(0), ZoneInfo(zone)).astimezone(UTC)
    return Day(start, start + timedelta(days=1), window)


async def hub_orders(
    conn: AsyncConnection, channel: str, day: Day, lines: Iterable[SettlementLine]
) -> dict[str, HubPayment]:
    cols = (ORD.c.id, ORD.c.partner_order_id, ORD.c.amount, ORD.c.state, ORD.c.confirmed_at)

    def one(r: object) -> HubPayment:
        return HubPayment(r.id, r.partner_order_id, int(r.amount), r.state, r.confirmed_at)  # type: ignore[attr-defined]

    result = await conn.execute(
        select(*cols).where(
            ORD.c.channel == channel,
            ORD.c.confirmed_at >= day.start - day.window,
            ORD.c.confirmed_at < day.end + day.window,
        )
    )
    out = {r.partner_order_id: one(r) for r in result}
    for chunk in _chunks(sorted({ln.partner_order_id for ln in lines} - out.keys())):
        result = await conn.execute(
            select(*cols).where(ORD.c.channel == channel, ORD.c.partner_order_id.in_(chunk))
        )
        out.update({r.partner_order_id: one(r) for r in result})
    return out


def match(
    channel: str, lines: list[SettlementLine], orders: dict[str, HubPayment], day: Day
) -> list[Found]:
    found: list[Found] = []
    seen: dict[str, int] = {}
    for line in lines:
        ref = f"order:{line.partner_order_id}"
        n = seen[line.partner_order_id] = seen.get(line.partner_order_id, 0) + 1
        if n > 1:
            found.append(
                Found(
                    "duplicate",
                    f"{channel}.line.repeated",
                    f"{ref}#{n}",
                    f"line {line.line_no} repeats {ref} (occurrence {n})",
                    partner_amount=line.amount,
                )
            )
            continue
        found.extend(_line(channel, line, orders.get(line.partner_order_id), day, ref))
    for o in orders.values():
        if o.out_trade_no in seen or o.confirmed_at is None or not day.contains(o.confirmed_at):
            continue
        near = day.near_midnight(o.confirmed_at)
        found.append(
            Found(
                "crossed_midnight" if near else "hub_only",
                f"{channel}.order.clears_next_day" if near else f"{channel}.order.not_at_partner",
                f"order:{o.out_trade_no}",
                f"confirmed {o.confirmed_at.isoformat()} in the hub, not in the settlement file",
                o.order_id,
                o.amount,
            )
        )
    return found


def _line(
    channel: str, line: SettlementLine, hub: HubPayment | None, day: Day, ref: str
) -> list[Found]:
    at = f"line {line.line_no}"

    def found(kind: str, rule: str, detail: str) -> list[Found]:
        hub_id, hub_amount = (hub.order_id, hub.amount) if hub else (None, None)
        return [
            Found(
                kind, f"{channel}.{rule}", ref, f"{at}: {detail}", hub_id, hub_amount, line.amount
            )
        ]

    if hub is None:
        return found(
            "partner_only", "order.not_in_hub", "the partner settles it, the hub has no such order"
        )
    if hub.confirmed_at is None:
        return found("status_mismatch", "order.hub_unpaid", f"the hub's order is {hub.state}")
    if hub.amount != line.amount:
        return found(
            "amount_mismatch",
            "order.amount",
            f"the partner {line.amount} fen, the hub {hub.amount} fen",
        )
    ours = HUB_STATE.get(hub.state, hub.state)
    if line.state and line.state != ours:
        return found(
            "status_mismatch", "order.state", f"the partner says {line.state}, the hub {ours}"
        )
    if not day.contains(hub.confirmed_at):
        near = day.near_midnight(hub.confirmed_at)
        return found(
            "crossed_midnight" if near else "status_mismatch",
            "order.crossed_midnight" if near else "order.other_day",
            f"confirmed {hub.confirmed_at.isoformat()} in the hub",
        )
    return []
