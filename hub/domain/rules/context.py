"""What a rule may look at: everything arrives in the context, nothing is fetched.

The rule engine runs in the hub at sale time and in the venue bridge at the gate, possibly
offline, so a rule can never ask a database or a clock. The caller gathers the facts
(including the time and the venue's timezone) and the engine only decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.domain.catalog import Product, SlotInfo
from hub.domain.order import IdType, OrderRequest, Ticket, Visitor
from hub.domain.rules.idcard import age_on, gender, is_valid_id_card


@dataclass(frozen=True, slots=True)
class SaleContext:
    """One line of an order request, as the rules of its product see it.

    `visitors` are the visitors this line's units are for. For a request with one line
    that is every visitor of the request; `for_line` splits a multi-line request so that
    each line is checked (and claims per-ID limits) for its own visitors only.
    ``details["visitor_index"]`` in a denial indexes this tuple.
    """

    request: OrderRequest  # hub.domain.OrderRequest
    product: Product  # the product of the line being checked
    quantity: int  # units of `product` in this request
    visitors: tuple[Visitor, ...]  # visitors of the request (real-name: one per unit)
    now: datetime  # aware UTC
    tz: ZoneInfo  # venue timezone: booking window / cut-off are venue-local
    slot: SlotInfo  # hub.domain.SlotInfo of the requested slot

    @classmethod
    def for_line(
        cls,
        request: OrderRequest,
        line_index: int,
        product: Product,
        *,
        now: datetime,
        tz: ZoneInfo,
        slot: SlotInfo,
    ) -> SaleContext:
        """Context of ``request.lines[line_index]``.

        Visitors are taken in line order, one per unit; the last line also gets any
        surplus visitors, so a roster that does not match the units is still caught by
        the ``real_name`` check instead of being silently trimmed.
        """
        line = request.lines[line_index]
        start = sum(ln.quantity for ln in request.lines[:line_index])
        last = line_index == len(request.lines) - 1
        visitors = (
            request.visitors[start:] if last else request.visitors[start : start + line.quantity]
        )
        return cls(
            request=request,
            product=product,
            quantity=line.quantity,
            visitors=visitors,
            now=now,
            tz=tz,
            slot=slot,
        )

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.tz)

    @property
    def local_today(self) -> date:
        return self.local_now.date()


@dataclass(frozen=True, slots=True)
class EntryContext:
    """One scan at one gate, with the entry history the bridge holds for the ticket."""

    ticket: Ticket  # state, valid_from/valid_until aware UTC, entries_allowed, entries_used
    product: Product | None
    now: datetime  # aware UTC
    tz: ZoneInfo
    slot: SlotInfo
    gate: str
    entries_today: int  # accepted entries of this ticket on the venue-local day of `now`
    entries_total: int

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.tz)


# -- data for `deny_if` JSONLogic rules --------------------------------------------------
# Plain JSON-like dicts: JSONLogic authors write paths such as "order.quantity", and the
# dicts are the documented contract (changing a key breaks stored rule documents).


def _now_data(local: datetime) -> dict[str, Any]:
    return {
        "date": local.date().isoformat(),
        "time": local.strftime("%H:%M"),
        "weekday": local.isoweekday(),
    }


def _visitor_data(visitor: Visitor, index: int, travel_date: date) -> dict[str, Any]:
    number = visitor.id_number or ""
    is_card = visitor.id_type is IdType.ID_CARD and is_valid_id_card(number)
    return {
        "index": index,
        "id_type": visitor.id_type.value,
        "age": age_on(number, travel_date) if is_card else None,
        "gender": gender(number) if is_card else None,
    }


def sale_data(ctx: SaleContext) -> dict[str, Any]:
    """JSONLogic data of the sale phase.

    ``order.quantity`` is the units of this line's product (what per-product rules mean);
    ``order.total_quantity`` counts every line of the request.
    """
    request = ctx.request
    local = ctx.local_now
    return {
        "order": {
            "quantity": ctx.quantity,
            "total_quantity": request.quantity,
            "channel": request.channel,
            "travel_date": request.travel_date.isoformat(),
            "slot": ctx.slot.code,
            "amount": request.amount,
            "weekday": request.travel_date.isoweekday(),
            "days_ahead": (request.travel_date - local.date()).days,
        },
        "now": _now_data(local),
        "visitors": [_visitor_data(v, i, request.travel_date) for i, v in enumerate(ctx.visitors)],
        "product": {"id": ctx.product.id, "kind": ctx.product.kind.value},
    }


def entry_data(ctx: EntryContext) -> dict[str, Any]:
    """JSONLogic data of the entry phase."""
    ticket = ctx.ticket
    return {
        "ticket": {
            "id": ticket.id,
            "product_id": ticket.product_id,
            "entries_allowed": ticket.entries_allowed,
            "entries_used": ticket.entries_used,
        },
        "product": (
            {"id": ctx.product.id, "kind": ctx.product.kind.value} if ctx.product else None
        ),
        "gate": ctx.gate,
        "slot": ctx.slot.code,
        "now": _now_data(ctx.local_now),
        "entries_today": ctx.entries_today,
        "entries_total": ctx.entries_total,
    }
