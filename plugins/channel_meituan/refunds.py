"""Meituan refund requests: which tickets a refund takes, and what we remember about it.

The hub refunds by ticket id; Meituan asks for the whole order (no ``refundQuantity``)
or for a number of admissions. `choose` turns either into an exact list of tickets — or
into the denial Meituan must hear (606 tickets used, 699 any other refusal), decided
before anything is written.

`RefundLog` keeps, in the plugin store, one record per ``(orderId, refundId)`` written
BEFORE the refund: the body's fingerprint and the tickets chosen. Meituan's retry with
the same body reuses the same tickets, so the hub's idempotency key returns the first
answer (choosing again after the first refund succeeded would pick other tickets); a
retry with a changed body is a conflict. A second record, keyed by the refunded ticket
set, lets the refund notice find Meituan's ``refundId`` and ``requestTime`` when the
``order_refunded`` event is delivered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from hub import Denial, DenialCode, Order, Ticket
from hub.domain import TicketState

RETENTION = timedelta(days=120)
"""Long enough for every retry and every late notice about an order."""

Selection = list[str] | Denial


def _key(*parts: str) -> str:
    """Store keys are at most 200 characters: long ones are hashed (ids are opaque)."""
    raw = "\x1f".join(parts)
    return raw if len(raw) <= 190 else hashlib.sha256(raw.encode("utf-8")).hexdigest()


def tickets_tag(ticket_ids: Sequence[str]) -> str:
    """A short, order-independent tag of a set of tickets."""
    return hashlib.sha256(",".join(sorted(ticket_ids)).encode("utf-8")).hexdigest()[:16]


def _live(order: Order) -> list[Ticket]:
    return [t for t in order.tickets if t.state is not TicketState.REVOKED]


def _is_used(t: Ticket) -> bool:
    return bool(t.entries_used) or t.state is TicketState.USED


def choose(order: Order, quantity: Any) -> Selection:
    """The tickets a refund takes: all (``quantity`` None) or that many admissions,
    taken from the last unused tickets (the lead visitor keeps theirs). A group ticket
    is refunded whole or not at all."""
    live = _live(order)
    if not live:
        return Denial(DenialCode.INVALID_STATE, "Nothing left to refund")
    if quantity is None:
        if any(_is_used(t) for t in live):
            return Denial(DenialCode.ALREADY_REDEEMED, "Some tickets were used")
        return sorted(t.id for t in live)
    try:
        wanted = int(quantity)
    except (TypeError, ValueError):
        return Denial(DenialCode.INVALID_REQUEST, "refundQuantity is not a number")
    if wanted < 1:
        return Denial(DenialCode.INVALID_REQUEST, "refundQuantity must be at least 1")
    unused = [t for t in live if not _is_used(t)]
    free = sum(t.units for t in unused)
    if wanted > free:
        if wanted <= sum(t.units for t in live):
            return Denial(DenialCode.ALREADY_REDEEMED, f"Only {free} unused")
        return Denial(DenialCode.QUANTITY_TOO_LARGE, f"Only {free} left to refund")
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
        return Denial(DenialCode.QUANTITY_TOO_LARGE, "A group ticket is refunded whole")
    return sorted(picked)


class RefundLog:
    """The ``refund`` and ``refund_of`` records over a `hub.plugin_store.PluginStore`."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def claim(self, order_id: str, refund_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Record this request unless one with its ids exists; return the record that
        stands (ours, or the first one, whose ``fp`` the caller compares)."""
        key = _key(order_id, refund_id)
        if await self.store.add("refund", key, doc, ttl=RETENTION):
            await self.store.put(
                "refund_of",
                _key(order_id, tickets_tag(doc["tickets"])),
                {"refundId": refund_id, "requestTime": doc["requestTime"]},
                ttl=RETENTION,
            )
            return doc
        first = await self.store.get("refund", key)
        return first if first is not None else doc

    async def request(self, order_id: str, refund_id: str) -> dict[str, Any] | None:
        return await self.store.get("refund", _key(order_id, refund_id))  # type: ignore[no-any-return]

    async def of_tickets(self, order_id: str, ticket_ids: Sequence[str]) -> dict[str, Any] | None:
        """Meituan's refundId and requestTime for a refund of exactly these tickets."""
        found = await self.store.get("refund_of", _key(order_id, tickets_tag(ticket_ids)))
        return found  # type: ignore[no-any-return]
