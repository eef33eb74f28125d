"""What the Ctrip plugin remembers about Ctrip's requests, in its plugin store.

Two kinds of record, both written BEFORE the order move they are about, so whatever
happens next a retry or a callback finds them:

``req``      one per mutating request (service, otaOrderId, sequenceId): the fingerprint
             of its body and the tickets it chose. A retry with the same body reuses the
             same tickets — so the hub's own idempotency key returns the first answer —
             and a retry with a changed body is refused as a conflict. A partial cancel
             MUST remember its choice: the same "cancel 1" chosen again after the first
             succeeded would pick another ticket.
``confirm``  one per answer we gave as "pending": which service to confirm, with which
             sequenceId (a ``*Confirm`` reuses the id of the request it confirms) and
             Ctrip's ``lastConfirmTime``. Keyed by the order event the move will raise
             (see `event_key`), which is how the outbox call finds it at delivery.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

RETENTION = timedelta(days=120)
"""Long enough for every retry and every late refund Ctrip may send about an order."""


def _key(*parts: str) -> str:
    """Store keys are at most 200 characters: long ones are hashed (ids are opaque)."""
    raw = "\x1f".join(parts)
    return raw if len(raw) <= 190 else hashlib.sha256(raw.encode("utf-8")).hexdigest()


def tickets_tag(ticket_ids: Sequence[str]) -> str:
    """A short, order-independent tag of a set of tickets."""
    blob = ",".join(sorted(ticket_ids)).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def event_key(event: str, ota_order_id: str, ticket_ids: Sequence[str] = ()) -> str:
    """``confirmed`` / ``cancelled`` / ``refunded`` (+ the refunded tickets) of an order:
    known to the request handler before the move and to the event hook after it."""
    tag = tickets_tag(ticket_ids) if ticket_ids else "-"
    return _key(event, ota_order_id, tag)


class RequestLog:
    """The ``req`` and ``confirm`` records over a `hub.plugin_store.PluginStore`."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def claim(
        self, service: str, ota_order_id: str, sequence: str, doc: dict[str, Any]
    ) -> dict[str, Any]:
        """Record this request unless one with its ids exists; return the record that
        stands (ours, or the first one, whose ``fp`` the caller compares)."""
        key = _key(service, ota_order_id, sequence)
        if await self.store.add("req", key, doc, ttl=RETENTION):
            return doc
        first = await self.store.get("req", key)
        return first if first is not None else doc

    async def request(self, service: str, ota_order_id: str, sequence: str) -> Any:
        """The record of an earlier request with these ids, or None."""
        return await self.store.get("req", _key(service, ota_order_id, sequence))

    async def expect_confirm(self, event: str, doc: dict[str, Any]) -> None:
        await self.store.put("confirm", event, doc, ttl=RETENTION)

    async def pending(self, event: str) -> dict[str, Any] | None:
        return await self.store.get("confirm", event)  # type: ignore[no-any-return]
