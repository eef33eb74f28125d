"""Which tickets a cancel or refund takes back when a partner asks for everything or names
only a number of admissions.

The hub refunds by ticket id; partners (Ctrip's cancel by quantity, Meituan's
``refundQuantity``) say "all" or "N admissions". Each channel turns that into an exact list
of ticket ids — or into the denial the partner must hear — BEFORE anything is written.
The choice lives here, once, so every channel takes back the same tickets for the same
request: the last unused tickets (highest visitor index first, so the lead visitor keeps
theirs), a group ticket whole or not at all. Pure: it reads an `Order`, nothing else.
"""

from __future__ import annotations

from typing import Any

from hub.domain.errors import Denial, DenialCode
from hub.domain.order import Order, Ticket, TicketState

Selection = list[str] | Denial
"""Ticket ids (sorted), or the reason nothing is taken back."""


def live_tickets(order: Order) -> list[Ticket]:
    """The tickets not yet taken back."""
    return [t for t in order.tickets if t.state is not TicketState.REVOKED]


def is_used(ticket: Ticket) -> bool:
    """A ticket that admitted anyone (a group ticket after its first entry included)."""
    return bool(ticket.entries_used) or ticket.state is TicketState.USED


def take_all(order: Order, *, verb: str) -> Selection:
    """Every ticket left; refused as a whole if any was used (a partial "all" would
    surprise the partner, who then asks by quantity)."""
    live = live_tickets(order)
    if not live:
        return Denial(DenialCode.INVALID_STATE, f"Nothing left to {verb}")
    if any(is_used(t) for t in live):
        return Denial(DenialCode.ALREADY_REDEEMED, "Some tickets were used")
    return sorted(t.id for t in live)


def take_admissions(order: Order, quantity: Any, *, field: str, verb: str) -> Selection:
    """``quantity`` admissions (as the partner sent it, in its field ``field``) taken from
    the last unused tickets. Asking for more than is unused is "already used" when the
    order holds that many, else a wrong quantity; a quantity that would split a group
    ticket is a wrong quantity too."""
    try:
        wanted = int(quantity)
    except (TypeError, ValueError):
        return Denial(DenialCode.INVALID_REQUEST, f"{field} is not a number")
    if wanted < 1:
        return Denial(DenialCode.INVALID_REQUEST, f"{field} must be at least 1")
    live = live_tickets(order)
    unused = [t for t in live if not is_used(t)]
    free = sum(t.units for t in unused)
    if wanted > free:
        if wanted <= sum(t.units for t in live):
            return Denial(DenialCode.ALREADY_REDEEMED, f"Only {free} unused")
        return Denial(DenialCode.QUANTITY_TOO_LARGE, f"Only {free} left to {verb}")
    unused.sort(key=lambda t: (t.visitor_index if t.visitor_index is not None else -1, t.id))
    picked: list[str] = []
    left = wanted
    for t in reversed(unused):
        if left == 0:
            break
        if t.units <= left:
            picked.append(t.id)
            left -= t.units
    if left:
        return Denial(DenialCode.QUANTITY_TOO_LARGE, "A group ticket is taken back whole")
    return sorted(picked)
