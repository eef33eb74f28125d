"""Meituan notices: which order events queue which call, and how each is delivered.

The event hooks (in ``__init__``) run inside the transaction that changed the order and
only RETURN `PartnerCall`s; the hub writes them to the outbox in that same transaction,
so a notice is never lost and never queued for a change that rolled back. The figures a
notice carries are computed when it is DELIVERED, from the order as it is then, so a
retried or late notice always carries the latest running totals:

``consume_notice``  one per admitted ticket (dedupe on the redemption id: the bridge's
                    retries queue it once); cumulative ``usedQuantity`` plus ``quantity``
                    and ``refundedQuantity``. A notice whose totals Meituan already took
                    (several admissions delivered late) is done without a call.
``voucher_notice``  only with asynchronous issuing (``MEITUAN_ASYNC_ISSUE``): pay was
                    answered 598 "issuing in progress"; the vouchers follow here, once
                    per confirmed order. Once Meituan took it, pay answers 200 with them.
``refund_notice``   one per refund of a Meituan order (dedupe on the refunded tickets):
                    Meituan's ``refundId`` and ``requestTime`` when Meituan asked for it
                    (`plugins.channel_meituan.refunds.RefundLog`), else an id of ours for
                    a refund the venue made; ``responseTime`` is when the refund was done.
``part_refund_notice``  one per refund of a combo ticket's unused parts (dedupe on the
                    ticket and the parts): the refund notice with ``refundQuantity`` 0 —
                    the ticket stays for its other parts — the parts and their money
                    (*unconfirmed*: the spec's note says what to confirm with Meituan).

Notices are queued whenever a Meituan order changes. Without ``MEITUAN_CALLBACK_URL`` the
delivery is dead-lettered with that message, so nothing is lost: once the setting exists
``tickethub outbox retry --all-dead`` sends them.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any

from hub.sdk import Clock, DeliveryError, Order, PartnerCall, Redemption, SystemClock, Ticket
from hub.sdk.channels import SpecOutbound
from plugins.channel_meituan import bodies
from plugins.channel_meituan.refunds import RETENTION, RefundLog, tickets_tag

log = logging.getLogger(__name__)

CHANNEL = "meituan"
CONSUME = "consume_notice"
REFUND = "refund_notice"
PART_REFUND = "part_refund_notice"
VOUCHER = "voucher_notice"
ISSUED = "vouchers_sent"
"""Plugin-store kind: Meituan took the voucher notice of this order (pay answers 200 now)."""


@dataclass
class HookState:
    """What the synchronous hooks need from the running channel (set in ``setup``):
    hooks are given no clock, and a refund notice's ``responseTime`` is the moment of
    the refund's own transaction."""

    clock: Clock = field(default_factory=SystemClock)
    async_issue: bool = False  # MEITUAN_ASYNC_ISSUE: pay answers 598, vouchers in a notice


HOOKS = HookState()


def voucher_call(order: Order) -> PartnerCall | None:
    """With asynchronous issuing, the vouchers of a confirmed Meituan order."""
    if order.channel != CHANNEL or not HOOKS.async_issue:
        return None
    return PartnerCall(
        partner=CHANNEL,
        kind=VOUCHER,
        dedupe_key=f"meituan:voucher:{order.id}",
        payload={"order_id": order.id},
        order_id=order.id,
    )


def consume_call(order: Order, ticket: Ticket, redemption: Redemption) -> PartnerCall | None:
    if order.channel != CHANNEL or not redemption.accepted:
        return None
    return PartnerCall(
        partner=CHANNEL,
        kind=CONSUME,
        dedupe_key=f"meituan:consume:{order.id}:{redemption.id}"[:200],
        payload={"order_id": order.id},
        order_id=order.id,
    )


def refund_call(order: Order, tickets: list[Ticket]) -> PartnerCall | None:
    if order.channel != CHANNEL or not tickets:
        return None
    ids = sorted(t.id for t in tickets)
    return PartnerCall(
        partner=CHANNEL,
        kind=REFUND,
        dedupe_key=f"meituan:refund:{order.id}:{tickets_tag(ids)}",
        payload={
            "order_id": order.id,
            "tickets": ids,
            "units": sum(t.units for t in tickets),
            "at": bodies.beijing(HOOKS.clock.now()),
        },
        order_id=order.id,
    )


def part_refund_call(
    order: Order, ticket: Ticket, parts: list[str], amount: int
) -> PartnerCall | None:
    """The notice of a combo part refund (the module doc)."""
    if order.channel != CHANNEL or not parts:
        return None
    tag = f"{ticket.id}-{'+'.join(sorted(parts))}"
    return PartnerCall(
        partner=CHANNEL,
        kind=PART_REFUND,
        dedupe_key=f"meituan:part-refund:{order.id}:{tag}"[:200],
        payload={
            "order_id": order.id,
            "refund_id": f"S{order.id}-{tag}",
            "parts": sorted(parts),
            "amount": amount,
            "at": bodies.beijing(HOOKS.clock.now()),
        },
        order_id=order.id,
    )


class Deliveries:
    """Builds and sends each queued notice (the channel's ``deliver``)."""

    def __init__(self, outbound: SpecOutbound, ctx: Any) -> None:
        self.outbound = outbound
        self.ctx = ctx
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def deliver(self, call: PartnerCall) -> None:
        order = await self.ctx.orders.get(str(call.payload["order_id"]))
        if order is None:
            raise DeliveryError(f"meituan: order of {call.dedupe_key} is gone", retryable=False)
        if call.kind == CONSUME:
            await self._consume(order)
        elif call.kind == VOUCHER:
            await self.outbound.send(self.ctx.http, VOUCHER, bodies.voucher_body(order))
            at = {"at": bodies.beijing(self.ctx.clock.now())}
            await asyncio.shield(self.ctx.store(CHANNEL).put(ISSUED, order.id, at, ttl=RETENTION))
        elif call.kind == REFUND:
            body = await self._refund_body(order, call)
            await self.outbound.send(self.ctx.http, call.kind, body)
        elif call.kind == PART_REFUND:
            at = str(call.payload.get("at", ""))
            body = bodies.refund_body(
                order,
                refund_id=str(call.payload["refund_id"]),
                request_time=at,
                response_time=at,
                refund_quantity=0,
            )
            body["refundParts"] = [str(p) for p in call.payload.get("parts", ())]
            body["refundPrice"] = round(int(call.payload.get("amount", 0)) / 100, 2)
            await self.outbound.send(self.ctx.http, call.kind, body)
        else:
            raise DeliveryError(f"meituan: unknown call kind {call.kind!r}", retryable=False)

    async def _consume(self, order: Order) -> None:
        """Send the running totals unless Meituan already took exactly these: two
        admissions delivered late both read the same totals, and the second notice
        would tell Meituan nothing new (it is done without a call)."""
        lock = self._locks.get(order.id)
        if lock is None:  # one notice of an order at a time in this process
            lock = asyncio.Lock()
            self._locks[order.id] = lock
        async with lock:
            fresh = await self.ctx.orders.get(order.id)
            body = bodies.consume_body(fresh or order)
            totals = {k: body[k] for k in ("usedQuantity", "refundedQuantity")}
            store = self.ctx.store(CHANNEL)
            if await store.get("consume_sent", order.id) == totals:
                return
            await self.outbound.send(self.ctx.http, CONSUME, body)
            await asyncio.shield(store.put("consume_sent", order.id, totals, ttl=RETENTION))

    async def _refund_body(self, order: Order, call: PartnerCall) -> dict[str, Any]:
        tickets = [str(t) for t in call.payload.get("tickets", ())]
        at = str(call.payload.get("at", ""))
        asked = await RefundLog(self.ctx.store(CHANNEL)).of_tickets(order.partner_order_id, tickets)
        if asked is not None:
            refund_id, request_time = str(asked["refundId"]), str(asked["requestTime"])
        else:  # the venue refunded it (box office, staff): an id of ours, stable per refund
            refund_id, request_time = f"S{order.id}-{tickets_tag(tickets)}", at
        return bodies.refund_body(
            order,
            refund_id=refund_id,
            request_time=request_time,
            response_time=at,
            refund_quantity=int(call.payload.get("units", len(tickets))),
        )
