"""Fliggy's refund requests: the whole order, or ``quantity`` units of it.

A partial refund names how many, not which: the channel picks unused tickets (the last
travellers first). Fliggy retries a request it got no answer to, and the hub's
idempotency compares the tickets chosen, so the FIRST choice is kept in the plugin store
(`PluginStore.add`: the first writer wins, concurrent duplicates read the same choice)
and every retry refunds exactly those tickets — or gets the first answer back.

Idempotency keys: a whole refund shares the key of a cancel of a paid order (both are
"refund everything left"), so a cancel followed by Fliggy's refund request is answered
as the cancel was; a partial refund is keyed by Fliggy's ``refund_id`` (else by the
request's bytes).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub import Denial, DenialCode, Order
from hub.channels.loader import PathError, get_path

CHOICES = "refund-choice"
KEEP = timedelta(days=30)


def whole_key(channel: str, partner_order_id: str) -> str:
    """The key `SpecChannel` uses for a refund of everything left (cancel or refund)."""
    return f"{channel}\x1frefund\x1f{partner_order_id}"


def requested_quantity(body: Any, path: str) -> int | Denial | None:
    """The units Fliggy asks back (None: all that are left)."""
    try:
        value = get_path(body, path)
    except PathError:
        return None
    if value is None:
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        return Denial(DenialCode.INVALID_REQUEST, f"{path} {value!r} is not a number")
    if n < 1 or str(n) != str(value).strip():
        return Denial(DenialCode.INVALID_REQUEST, f"{path} must be a whole number >= 1")
    return n


def pick(order: Order, quantity: int) -> list[str] | Denial:
    """``quantity`` units of unused tickets, the last travellers first."""
    unused = [t for t in order.tickets if t.state == "valid" and not t.entries_used]
    unused.sort(key=lambda t: (t.visitor_index or 0, t.id), reverse=True)
    chosen: list[str] = []
    units = 0
    for t in unused:
        if units >= quantity:
            break
        chosen.append(t.id)
        units += t.units
    if units != quantity:
        left = sum(t.units for t in unused)
        return Denial(
            DenialCode.INVALID_STATE, f"{quantity} units asked back, {left} unused refundable"
        )
    return chosen


async def choose(store: Any, key: str, order: Order, quantity: int) -> list[str] | Denial:
    """The tickets of this request: the stored first choice, else a new one stored."""
    found = await store.get(CHOICES, key)
    if found is None:
        picked = pick(order, quantity)
        if isinstance(picked, Denial):
            return picked
        await store.add(CHOICES, key, {"tickets": picked}, ttl=KEEP)
        found = await store.get(CHOICES, key)
    return [str(t) for t in (found or {}).get("tickets", [])]
