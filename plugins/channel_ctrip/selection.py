"""Which tickets a Ctrip cancel or refund takes back: all, a quantity, or named passengers.

Ctrip's ``CancelOrder`` has three shapes (``cancelType`` 0 all / 1 by quantity / 2 by
passenger) and ``RefundOrder`` the same two partial ones. The hub refunds by ticket id,
so this module turns each shape into an exact list of ticket ids — or into the denial
Ctrip must hear (2002 already used, 2004 wrong quantity, 1006 unknown passenger), decided
before anything is written. Pure: it reads an `Order`, nothing else.

Real-name orders have one ticket per visitor (``Ticket.visitor_index``), so a passenger
is found by ID number (or, for orders without ID numbers, by a unique name) and maps to
the tickets of that visitor. Denial texts never contain ID numbers (they reach logs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.domain import TicketState
from hub.domain.takeback import Selection, take_admissions, take_all
from hub.sdk import Denial, DenialCode, Order


def everything(order: Order) -> Selection:
    """Every ticket, for "cancel all": refused as a whole if any was used (Ctrip 2002)."""
    return take_all(order, verb="cancel")


def by_quantity(order: Order, quantity: Any) -> Selection:
    """``quantity`` admissions, the hub's way (`hub.domain.takeback`): the last unused
    tickets, a group ticket whole (a quantity that would split one is Ctrip's 2004)."""
    return take_admissions(order, quantity, field="quantity", verb="cancel")


def _passenger_index(order: Order, passenger: Any, n: int) -> int | Denial:
    if not isinstance(passenger, dict):
        return Denial(DenialCode.INVALID_REQUEST, f"passenger {n} is not an object")
    card = str(passenger.get("cardNo") or "").strip().upper()
    name = str(passenger.get("name") or "").strip()
    if card:
        found = [i for i, v in enumerate(order.visitors) if (v.id_number or "") == card]
    elif name:
        found = [i for i, v in enumerate(order.visitors) if v.name == name]
    else:
        return Denial(DenialCode.INVALID_REQUEST, f"passenger {n}: no cardNo or name")
    if len(found) != 1:
        return Denial(DenialCode.INVALID_REQUEST, f"passenger {n} is not in this order")
    return found[0]


def by_passengers(order: Order, passengers: Any) -> Selection:
    """The tickets of exactly the named passengers; every one must be unused."""
    if not isinstance(passengers, list) or not passengers:
        return Denial(DenialCode.INVALID_REQUEST, "passengers missing")
    indexes: list[int] = []
    for n, p in enumerate(passengers):
        idx = _passenger_index(order, p, n)
        if isinstance(idx, Denial):
            return idx
        if idx in indexes:
            return Denial(DenialCode.INVALID_REQUEST, f"passenger {n} named twice")
        indexes.append(idx)
    picked: list[str] = []
    for idx in indexes:
        mine = [t for t in order.tickets if t.visitor_index == idx]
        if not mine:
            return Denial(DenialCode.INVALID_REQUEST, "group ticket: cancel the whole order")
        for t in mine:
            if t.entries_used or t.state is TicketState.USED:
                return Denial(DenialCode.ALREADY_REDEEMED, f"passenger {idx} already entered")
            if t.state is TicketState.REVOKED:
                return Denial(DenialCode.INVALID_STATE, f"passenger {idx} already cancelled")
            picked.append(t.id)
    return sorted(picked)


def units(order: Order, ticket_ids: Sequence[str]) -> int:
    """Admissions the given tickets stand for."""
    chosen = set(ticket_ids)
    return sum(t.units for t in order.tickets if t.id in chosen)
