"""What a sandbox OTA settles: its own book of the orders it placed, written as the
settlement file its channel spec's ``[settlement]`` section declares (CSV in the first
declared encoding, or XLSX), so the hub's reconciliation is tested on the declared format.

Each sandbox client (`CtripClient`, `MeituanClient`, `DouyinClient`, `FliggyClient`) keeps
a `SettlementBook` and tells it about every call it made that the hub accepted: the
spec's ``[mapping]`` says where the order id, quantity and price are in the body, its
operations' ``canonical`` whether the call sold, paid, cancelled or refunded. A test (or
the demo) can also make the file wrong on purpose: leave an order out, misstate its
amount, settle an order the hub never saw.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hub.channels.loader import get_path
from hub.channels.spec import ChannelSpec
from hub.channels.spec_settlement import Settlement
from hub.reconcile.money import yuan

SOLD = ("create_hold", "create_paid")
GONE = ("cancel", "refund")


@functools.cache
def spec_of(channel: str) -> ChannelSpec:
    """The channel's spec as the hub has it: the packaged spec folder's, else its plugin's
    (wherever the file lives); read once per process."""
    from hub.channels.loader import load_all
    from hub.plugins import build_plugins
    from hub.reconcile.service import channel_spec

    shipped = load_all().get(channel)
    if shipped is not None:
        return shipped
    found = channel_spec(channel, (e.obj for e in build_plugins().channels), [])
    if found is None:
        raise LookupError(f"no spec of channel {channel!r}")
    return found


@dataclass
class Settled:
    partner_order_id: str
    at: datetime
    amount: int  # fen
    quantity: int
    state: str = "held"  # held | paid | refunded | used


@dataclass
class SettlementBook:
    channel: str
    calls: list[tuple[str, Any, datetime]] = field(default_factory=list)
    _orders: dict[str, Settled] = field(default_factory=dict)
    leave_out: set[str] = field(default_factory=set)
    misstate: dict[str, int] = field(default_factory=dict)  # order id -> fen shown
    unknown: list[Settled] = field(default_factory=list)  # settled, never sent to the hub
    _spec: ChannelSpec | None = None

    @property
    def spec(self) -> ChannelSpec:
        if self._spec is None:
            self._spec = spec_of(self.channel)
        return self._spec

    def observe(self, operation: str, body: Any, ok: bool, at: datetime) -> None:
        """A call the client made; only calls the hub accepted change the book. Kept as
        sent and read by the spec when the book is read: a client's call stays as cheap
        as it was (no spec loading inside a timed exchange)."""
        if ok:
            self.calls.append((operation, body, at))

    @property
    def orders(self) -> dict[str, Settled]:
        pending, self.calls = self.calls, []
        for operation, body, at in pending:
            self._apply(operation, body, at)
        return self._orders

    def _apply(self, operation: str, body: Any, at: datetime) -> None:
        ops = self.spec.operations
        op = ops.get(operation) or ops.get(self.spec.operation_for_path(operation) or "")
        m = self.spec.mapping
        if op is None or m is None or not isinstance(body, dict):
            return
        try:
            order_id = str(get_path(body, m.partner_order_id))
        except (LookupError, TypeError, ValueError):
            return
        orders = self._orders
        if op.canonical in SOLD:
            quantity = int(get_path(body, m.quantity))
            price = Decimal(str(get_path(body, m.amount))) if m.amount else Decimal(0)
            unit = int(price * 100) if m.amount_unit == "yuan" else int(price)
            state = "paid" if op.canonical == "create_paid" else "held"
            orders.setdefault(order_id, Settled(order_id, at, unit * quantity, quantity, state))
        elif op.canonical == "pay" and order_id in orders:
            orders[order_id].state = "paid"
            orders[order_id].at = at
        elif op.canonical in GONE and order_id in orders:
            orders[order_id].state = "refunded"

    def used(self, order_id: str) -> None:
        self.orders[order_id].state = "used"

    def add(self, order: Settled) -> None:
        self.orders[order.partner_order_id] = order

    def settle_unknown(self, order_id: str, amount: int, at: datetime) -> None:
        self.unknown.append(Settled(order_id, at, amount, 1, "paid"))

    def lines(self, day: date, zone: str) -> list[Settled]:
        tz = ZoneInfo(zone)
        out = [
            Settled(
                o.partner_order_id,
                o.at,
                self.misstate.get(o.partner_order_id, o.amount),
                o.quantity,
                o.state,
            )
            for o in self.orders.values()
            if o.state != "held"
            and o.partner_order_id not in self.leave_out
            and o.at.astimezone(tz).date() == day
        ]
        out += [u for u in self.unknown if u.at.astimezone(tz).date() == day]
        return sorted(out, key=lambda o: o.at)

    def write(
        self, day: date, *, fmt: str = "csv", encoding: str | None = None, merchant: str = ""
    ) -> bytes:
        """The settlement file of `day` in the spec's declared layout."""
        s = self.spec.settlement
        if s is None:
            raise LookupError(f"{self.channel}: the spec declares no [settlement]")
        rows = table(s, self.lines(day, s.timezone), merchant)
        if fmt == "xlsx":
            return _xlsx(rows)
        buf = io.StringIO()
        csv.writer(buf, delimiter=s.delimiter, lineterminator="\r\n").writerows(rows)
        enc = encoding or s.encodings[0]
        return buf.getvalue().encode(enc)


def table(s: Settlement, lines: list[Settled], merchant: str) -> list[list[str]]:
    """Title rows above the header (when ``header_row`` > 1), the header, a row per
    order, the total row when the spec declares one."""
    words = {}
    for word, state in s.states.items():
        words.setdefault(state, word)
    fields = list(s.columns)
    rows: list[list[str]] = [
        [f"{s.columns[fields[0]].header} 对账单"] for _ in range(s.header_row - 1)
    ]
    rows.append([s.columns[f].header for f in fields])
    for o in lines:
        local = o.at.astimezone(ZoneInfo(s.timezone))
        values = {
            "partner_order_id": o.partner_order_id,
            "supplier_order_id": "",
            "day": local.strftime(s.date_formats[0]),
            "travel_date": local.strftime("%Y-%m-%d"),
            "product": "门票",
            "quantity": str(o.quantity),
            "used_quantity": str(o.quantity if o.state == "used" else 0),
            "refunded_quantity": str(o.quantity if o.state == "refunded" else 0),
            "amount": yuan(o.amount) if s.amount_unit == "yuan" else str(o.amount),
            "settlement_amount": yuan(o.amount * 9 // 10),
            "commission": yuan(o.amount - o.amount * 9 // 10),
            "state": words.get(o.state, o.state),
            "merchant": merchant,
        }
        rows.append([values[f] for f in fields])
    if s.footer_label:
        rows.append([s.footer_label, str(len(lines))])
    return rows


def _xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
