"""Refunds a partner asks of a spec channel: everything left, or a number of units.

A partial refund names how many units (the refund operation's ``quantity`` path, by
default the ``[mapping]``'s), not which tickets; the hub refunds by ticket id. The units
are taken the hub's one way (`hub.domain.takeback.take_admissions`: the last unused
tickets, a group ticket whole), so the money back is those tickets' price.

Idempotency: a partial refund is keyed by the partner's refund id (``refund_id`` path;
without one, the fingerprint of the business body), so a second refund with another id is
a new refund. Partners retry a call they got no answer to, and the hub's idempotency
compares the tickets chosen, so the FIRST choice is kept in the plugin store
(`PluginStore.add`: the first writer wins, concurrent duplicates read the same choice)
with the body's fingerprint: the same id again refunds exactly those tickets — the first
answer — and the same id with another body is a conflict. A refund of everything left
shares the key of a cancel of a paid order (both are "refund everything left").
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from hub.channels.loader import PathError, get_path
from hub.domain import Denial, DenialCode, Order, OrderState
from hub.domain.order import fingerprint_json
from hub.domain.takeback import live_tickets, take_admissions

CHOICES = "refund-choice"
"""Plugin-store kind of the tickets a partial refund chose."""
KEEP = timedelta(days=30)
"""Longer than any partner retries a refund."""
_REFUNDABLE = {OrderState.CONFIRMED, OrderState.PARTLY_REDEEMED}


def whole_key(channel: str, partner_order_id: str) -> str:
    """The idempotency key of a refund of everything left (a refund, or a paid cancel)."""
    return f"{channel}\x1frefund\x1f{partner_order_id}"


def requested_quantity(body: Any, path: str | None) -> int | Denial | None:
    """The units the partner asks back: None (no path, or absent: everything left), a
    whole number >= 1, or the denial of anything else ("2.5", "two", true, 0)."""
    if path is None:
        return None
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


def request_id(body: Any, path: str | None) -> str:
    """The partner's id of this refund, else the fingerprint of its body (stable across
    the partner's retries of the same request); long ids are hashed (key lengths)."""
    try:
        value = get_path(body, path) if path else None
    except PathError:
        value = None
    rid = str(value) if value not in (None, "") else fingerprint_json(body)
    return rid if len(rid) <= 64 else hashlib.sha256(rid.encode("utf-8")).hexdigest()


async def choose(
    store: Any, key: str, order: Order, quantity: int, body: Any, *, field: str
) -> list[str] | Denial:
    """The tickets of the partial refund ``key``: its stored first choice, else a new one
    stored (see the module doc), or the denial the partner must hear."""
    fp = fingerprint_json(body)
    if len(key) > 190:  # store keys are at most 200 characters
        key = hashlib.sha256(key.encode("utf-8")).hexdigest()
    found = await store.get(CHOICES, key)
    if found is None:
        if order.state not in _REFUNDABLE or not live_tickets(order):
            return Denial(DenialCode.INVALID_STATE, f"Order is {order.state.value}")
        picked = take_admissions(order, quantity, field=field, verb="refund")
        if isinstance(picked, Denial):
            return picked
        await store.add(CHOICES, key, {"fp": fp, "tickets": picked}, ttl=KEEP)
        found = await store.get(CHOICES, key) or {"fp": fp, "tickets": picked}
    if found.get("fp", fp) != fp:  # records written before fingerprints: trusted
        return Denial(DenialCode.IDEMPOTENCY_CONFLICT, "same refund id, different request")
    return [str(t) for t in found.get("tickets", ())]
