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

from hub.domain.takeback import Selection, live_tickets, take_admissions, take_all
from hub.sdk import Denial, DenialCode, Order

RETENTION = timedelta(days=120)
"""Long enough for every retry and every late notice about an order."""


def _key(*parts: str) -> str:
    """Store keys are at most 200 characters: long ones are hashed (ids are opaque)."""
    raw = "\x1f".join(parts)
    return raw if len(raw) <= 190 else hashlib.sha256(raw.encode("utf-8")).hexdigest()


def tickets_tag(ticket_ids: Sequence[str]) -> str:
    """A short, order-independent tag of a set of tickets."""
    return hashlib.sha256(",".join(sorted(ticket_ids)).encode("utf-8")).hexdigest()[:16]


def choose(order: Order, quantity: Any) -> Selection:
    """The tickets a refund takes: all (``quantity`` None) or that many admissions,
    chosen the hub's way (`hub.domain.takeback`: the last unused tickets, a group ticket
    whole). An order with nothing left is refused before the quantity is read."""
    if quantity is None:
        return take_all(order, verb="refund")
    if not live_tickets(order):
        return Denial(DenialCode.INVALID_STATE, "Nothing left to refund")
    return take_admissions(order, quantity, field="refundQuantity", verb="refund")


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
