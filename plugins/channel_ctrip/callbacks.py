"""Ctrip callbacks: which order events queue which call, and how each is delivered.

The event hooks (in ``__init__``) run inside the transaction that changed the order or
the capacity and only RETURN `PartnerCall`s; the hub writes them to the outbox in that
same transaction. The figures a call carries are computed when it is DELIVERED, from the
order or the stock as they are then, so a retried or late call always carries the
latest numbers (Ctrip's ``useQuantity`` is cumulative):

``PayPreOrderConfirm`` / ``CancelOrderConfirm`` (kinds)
    queued for every Ctrip order event while some service is configured asynchronous;
    at delivery the plugin store says whether that event answers a request we answered
    "pending" (`plugins.channel_ctrip.requests`). If not — the answer was final, or
    staff moved the order — there is nothing to confirm and the call ends unsent. Ctrip
    stops accepting a confirmation after the request's ``lastConfirmTime``: such a call
    is dead-lettered for an operator instead of being sent late.
``OrderConsumedNotice``
    one per admitted ticket (dedupe on the redemption id: the bridge's retries queue it
    once), carrying the order's CUMULATIVE used admissions at delivery.
``PartRefundNotice``
    one per refund of a combo ticket's unused parts (dedupe on the ticket and the
    parts): which parts, their money, the order's vouchers as they stand. Ctrip documents
    no supplier-initiated refund service, so the serviceName and fields are the spec's
    (``[callbacks.PartRefundNotice]``, *unconfirmed*).
``DateInventoryModify``
    pushed by the hub's stock pusher for every stock change (`plugins.channel_ctrip.stock`,
    `hub.stockpush`); calls of this kind queued by the former capacity hook are still
    delivered here; the spec's ``rate_per_minute`` caps the calls
    (`hub.channels.outbound.RateLimiter`).

Hooks are given no clock and no settings, so the channel's ``setup`` hands them the hub
clock and whether Ctrip callbacks are configured (`HOOKS`): one hub per process in
production; tests build hubs one after another.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.sdk import Clock, DeliveryError, Order, PartnerCall, Redemption, SystemClock, Ticket
from hub.sdk.channels import ChannelSpec, SpecOutbound
from plugins.channel_ctrip import bodies
from plugins.channel_ctrip.requests import RequestLog, event_key, tickets_tag

log = logging.getLogger(__name__)

CHANNEL = "ctrip"
CONFIRM_PAY = "PayPreOrderConfirm"
CONFIRM_CANCEL = "CancelOrderConfirm"
CONSUMED = "OrderConsumedNotice"
INVENTORY = "DateInventoryModify"
PART_REFUND = "PartRefundNotice"


@dataclass
class HookState:
    """What the synchronous hooks need from the running channel (set in ``setup``)."""

    clock: Clock = field(default_factory=SystemClock)
    callbacks: bool = False  # a callback URL and the outbound secrets are configured
    confirms: bool = False  # some service answers "pending" (CTRIP_ASYNC_SERVICES)
    batch_max: int = 90
    coalesce_seconds: float = 5.0


HOOKS = HookState()


def configure(spec: ChannelSpec, clock: Clock, *, callbacks: bool, confirms: bool) -> None:
    cb = spec.callbacks.get(INVENTORY)
    HOOKS.clock = clock
    HOOKS.callbacks = callbacks
    HOOKS.confirms = callbacks and confirms
    HOOKS.batch_max = (cb.batch_max or 90) if cb else 90
    HOOKS.coalesce_seconds = (cb.coalesce_seconds or 5.0) if cb else 5.0


# ---------------------------------------------------------------------- hook side


def _ours(order: Order) -> bool:
    return order.channel == CHANNEL and HOOKS.callbacks


def confirm_call(order: Order, event: str, tickets: list[str] | None = None) -> PartnerCall | None:
    """A candidate ``*Confirm`` for one order event (see the module doc)."""
    if not (_ours(order) and HOOKS.confirms):
        return None
    ids = sorted(tickets or [])
    kind = CONFIRM_PAY if event == "confirmed" else CONFIRM_CANCEL
    tag = tickets_tag(ids) if ids else "-"
    return PartnerCall(
        partner=CHANNEL,
        kind=kind,
        dedupe_key=f"ctrip:{event}:{order.id}:{tag}",
        payload={
            "order_id": order.id,
            "event": event_key(event, order.partner_order_id, ids),
            "tickets": ids if event == "refunded" else None,
        },
        order_id=order.id,
    )


def consumed_call(order: Order, ticket: Ticket, redemption: Redemption) -> PartnerCall | None:
    if not _ours(order) or not redemption.accepted:
        return None
    return PartnerCall(
        partner=CHANNEL,
        kind=CONSUMED,
        dedupe_key=f"ctrip:consumed:{order.id}:{redemption.id}"[:200],
        payload={"order_id": order.id, "day": redemption.at.date().isoformat()},
        order_id=order.id,
    )


def part_refund_call(
    order: Order, ticket: Ticket, parts: list[str], amount: int
) -> PartnerCall | None:
    """The notice of a combo part refund (the module doc)."""
    if not _ours(order) or not parts:
        return None
    return PartnerCall(
        partner=CHANNEL,
        kind=PART_REFUND,
        dedupe_key=f"ctrip:part-refund:{order.id}:{ticket.id}:{'+'.join(sorted(parts))}"[:200],
        payload={"order_id": order.id, "ticket": ticket.id, "parts": sorted(parts),
                 "amount": amount},
        order_id=order.id,
    )  # fmt: skip


# ---------------------------------------------------------------------- delivery side


class Deliveries:
    """Builds and sends each queued call (the channel's ``deliver``)."""

    def __init__(self, spec: ChannelSpec, outbound: SpecOutbound, ctx: Any) -> None:
        self.spec = spec
        self.outbound = outbound
        self.ctx = ctx
        ids = spec.mapping.id_types if spec.mapping else {}
        self.card_types = {t.value: code for code, t in ids.items()}

    async def deliver(self, call: PartnerCall) -> None:
        if call.kind in (CONFIRM_PAY, CONFIRM_CANCEL):
            await self._confirm(call)
        elif call.kind == CONSUMED:
            await self._consumed(call)
        elif call.kind == INVENTORY:
            await self._inventory(call)
        elif call.kind == PART_REFUND:
            await self._part_refund(call)
        else:
            raise DeliveryError(f"ctrip: unknown call kind {call.kind!r}", retryable=False)

    async def _order(self, call: PartnerCall) -> Order:
        order = await self.ctx.orders.get(str(call.payload["order_id"]))
        if order is None:
            raise DeliveryError(f"ctrip: order of {call.dedupe_key} is gone", retryable=False)
        return order  # type: ignore[no-any-return]

    async def _confirm(self, call: PartnerCall) -> None:
        pending = await RequestLog(self.ctx.store(CHANNEL)).pending(str(call.payload["event"]))
        if pending is None:
            return  # answered synchronously (or moved by staff): nothing to confirm
        deadline = _beijing(pending.get("lastConfirmTime", ""))
        if deadline is not None and self.ctx.clock.now() > deadline:
            raise DeliveryError(
                f"ctrip: past lastConfirmTime {pending['lastConfirmTime']}", retryable=False
            )
        order = await self._order(call)
        tickets = call.payload.get("tickets")
        sequence = pending.get("sequenceId") or bodies.sequence_id(
            order.created_at.date(), call.dedupe_key
        )
        body = bodies.confirm_body(order, sequence, tickets=tickets)
        await self.outbound.send(self.ctx.http, f"{pending['service']}Confirm", body)

    async def _part_refund(self, call: PartnerCall) -> None:
        order = await self._order(call)
        ticket = next((t for t in order.tickets if t.id == call.payload.get("ticket")), None)
        parts = [str(p) for p in call.payload.get("parts", ())]
        sequence = bodies.sequence_id(order.created_at.date(), call.dedupe_key)
        body = bodies.part_refund_body(
            order, sequence, ticket, parts, int(call.payload.get("amount", 0))
        )
        await self.outbound.send(self.ctx.http, PART_REFUND, body)

    async def _consumed(self, call: PartnerCall) -> None:
        order = await self._order(call)
        day = date.fromisoformat(str(call.payload.get("day")))
        body = bodies.consumed_body(
            order, bodies.sequence_id(day, call.dedupe_key), self.card_types
        )
        await self.outbound.send(self.ctx.http, CONSUMED, body)

    async def _inventory(self, call: PartnerCall) -> None:
        """One DateInventoryModify per Ctrip product on the pool (≤ batch_max rows each).

        All bodies are computed first (the stock reads are the slow part), then sent one
        after the other, each marked in the plugin store as soon as Ctrip took it, so an
        attempt cut short (timeout, 5xx on the second product) resumes with the products
        not yet sent: Ctrip never gets one push twice (except in the unavoidable gap
        between its answer and our mark, the outbox's at-least-once)."""
        venue_id, pool = str(call.payload["venue_id"]), str(call.payload["pool"])
        days = [date.fromisoformat(d) for d in call.payload["days"]]
        store = self.ctx.store(CHANNEL)
        tag = hashlib.sha256(call.dedupe_key.encode()).hexdigest()[:40]
        todo: list[tuple[str, dict[str, Any]]] = []
        for product in await self._products(venue_id, pool):
            mark = f"{tag}:{product}"
            if await store.get("pushed", mark) is not None:
                continue
            rows = []
            for day in days:
                avail = await self.ctx.orders.availability(product, day, CHANNEL)
                left = sum(int(s.get("available", 0)) for s in avail.get("slots", ()))
                rows.append({"date": day.isoformat(), "quantity": left})
            body = {
                "sequenceId": bodies.sequence_id(days[0], f"{call.dedupe_key}:{product}"),
                "supplierOptionId": product,
                "inventorys": rows,
            }
            todo.append((mark, body))
        for mark, body in todo:
            await self.outbound.send(self.ctx.http, INVENTORY, body)
            at = {"at": self.ctx.clock.now().isoformat()}
            await asyncio.shield(store.put("pushed", mark, at, ttl=_WEEK))

    async def _products(self, venue_id: str, pool: str) -> list[str]:
        """Ctrip-sold products drawing on the pool (directly or as a combo part)."""
        catalog = self.ctx.orders.catalog
        out = []
        for p in await catalog.products(venue_id):
            if not p.active or (p.channels is not None and CHANNEL not in p.channels):
                continue
            pools = {p.pool} if p.pool else set()
            for comp in p.components:
                part = await catalog.product(comp.product_id)
                if part is not None and part.pool:
                    pools.add(part.pool)
            if pool in pools:
                out.append(p.id)
        return sorted(out)


_WEEK = timedelta(days=7)
_BEIJING = timedelta(hours=8)


def _beijing(value: str) -> datetime | None:
    """Ctrip's ``yyyy-MM-dd HH:mm:ss`` (Beijing time) as an aware UTC datetime."""
    try:
        local = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return (local - _BEIJING).replace(tzinfo=UTC)
