"""Order intake inside one group-commit transaction.

Per batch, in an order that every process follows (so batches never deadlock):
1. reserve the idempotency keys (sorted) — duplicates become replays;
2. lock the inventory cells the batch touches (`BatchLedger`) and its per-ID counters
   (sorted, PostgreSQL);
3. per order, first come first served: take stock from the locked counts (all components
   or none), add per-ID claims (all or none);
4. write one guarded delta per inventory cell, then orders, visitors, allocations,
   tickets and partner calls with one executemany per table, and complete the
   idempotency rows with the answers.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.accounts import store as account_store
from hub.contracts import PartnerCall
from hub.domain import Denial, DenialCode, Order, OrderState
from hub.domain.combo import dump_parts
from hub.domain.masking import mask_id
from hub.inventory.ledger import BatchLedger
from hub.orders import claims as claim_store
from hub.orders import idempotency, records
from hub.orders.prepare import Prepared
from hub.orders.tickets import issue
from hub.plugins import HubPlugins
from hub.sdk.outcome import Outcome
from hub.storage.db import reader
from hub.storage.sealed import IdNumbers
from hub.wall.counters import FlowDelta

Enqueue = Callable[[AsyncConnection, Sequence[PartnerCall], datetime], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class IntakeItem:
    key: str
    fingerprint: str
    now: datetime
    prepared: Prepared | None = None
    denial: Denial | None = None


@dataclass
class _Rows:
    orders: list[dict[str, Any]] = field(default_factory=list)
    visitors: list[dict[str, Any]] = field(default_factory=list)
    allocations: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    calls: list[PartnerCall] = field(default_factory=list)
    flow: FlowDelta = field(default_factory=FlowDelta)


def new_order_id(now: datetime) -> str:
    return f"O{now:%y%m%d}{secrets.token_hex(6).upper()}"


def plan_json(p: Prepared) -> dict[str, Any]:
    """What confirmation needs later to issue exactly the tickets that were sold — a
    combo's parts included (without them a combo held, then paid, became a plain ticket
    of N entries: no part could be checked or refunded on its own)."""
    return {
        "tickets": [
            [t.product_id, t.visitor_index, t.entries_allowed, t.units, dump_parts(t.parts)]
            for t in p.tickets
        ],
        "group_ticket": p.request.group_ticket,
        "valid_from": p.valid_from.isoformat(),
        "valid_until": p.valid_until.isoformat(),
    }


class Intake:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        plugins: HubPlugins,
        enqueue: Enqueue,
        ids: IdNumbers,
        hold_ttl: timedelta,
        unsafe: bool = False,
    ) -> None:
        self.engine = engine
        self.reads = reader(engine)
        self.unsafe = unsafe
        self.plugins = plugins
        self.enqueue = enqueue
        self.ids = ids
        self.id_secret = ids.hash_secret
        self.hold_ttl = hold_ttl

    async def process(
        self, conn: AsyncConnection, items: Sequence[IntakeItem]
    ) -> list[Outcome | None]:
        now = items[0].now
        new = await idempotency.reserve(conn, [(i.key, i.fingerprint) for i in items], now)
        results: list[Outcome | None] = [None] * len(items)
        work: list[int] = []
        for idx, item in enumerate(items):
            if item.key in new:
                new.discard(item.key)  # a second copy in this batch is a replay
                work.append(idx)
        live = [items[i].prepared for i in work if items[i].denial is None]
        ledger = BatchLedger(unsafe=self.unsafe)
        await ledger.load(
            conn,
            [(n.pool, p.request.travel_date, p.request.slot) for p in live if p for n in p.needs]
            + [(c.pool, p.request.travel_date, "") for p in live if p for c in p.caps],
        )
        await claim_store.lock_counters(
            conn,
            [
                (c.scope, claim_store.id_key(self.id_secret, c.id_number), c.day)
                for p in live
                if p
                for c in p.claims
            ],
        )
        await account_store.lock(conn, [p.request.account for p in live if p and p.request.account])
        rows = _Rows()
        answers: list[tuple[str, Outcome]] = []
        for idx in work:
            item = items[idx]
            if item.denial is not None or item.prepared is None:
                outcome = Outcome.denied(
                    item.denial or Denial(DenialCode.INVALID_REQUEST, "Nothing to do")
                )
            else:
                outcome = await self._place(conn, ledger, item.prepared, now, rows)
            results[idx] = outcome
            answers.append((item.key, outcome))
        await ledger.flush(conn)
        await records.insert_many(
            conn,
            orders=rows.orders,
            visitors=rows.visitors,
            allocations=rows.allocations,
            tickets=rows.tickets,
        )
        if rows.calls:
            await self.enqueue(conn, rows.calls, now)
        await idempotency.complete(conn, answers, self.ids)
        await rows.flow.flush(conn)  # last: see `hub.wall.counters`
        return results

    async def finish(
        self, items: Sequence[IntakeItem], results: list[Outcome | None]
    ) -> list[Outcome | None]:
        """After commit: answer the replays from the stored first answers."""
        missing = [(items[i].key, items[i].fingerprint) for i, r in enumerate(results) if r is None]
        if missing:
            async with self.reads.connect() as conn:
                stored = await idempotency.first_answers(conn, missing, self.ids)
            results = [r if r is not None else stored[items[i].key] for i, r in enumerate(results)]
        return results

    async def _place(
        self, conn: AsyncConnection, ledger: BatchLedger, p: Prepared, now: datetime, rows: _Rows
    ) -> Outcome:
        req = p.request
        taken = ledger.take(
            p.needs,
            day=req.travel_date,
            slot=req.slot,
            buckets=p.buckets,
            sell=req.confirm,
            caps=p.caps,
        )
        if taken is None:
            return self._sold_out(ledger, p)
        failed = await claim_store.apply(conn, p.claims, self.id_secret)
        if failed is not None:
            ledger.give_back(taken, sold=req.confirm)
            return Outcome.denied(
                Denial(
                    DenialCode.ID_DAILY_LIMIT,
                    f"ID {mask_id(failed.id_number)} reached its limit of {failed.limit}",
                    {"limit": failed.limit, "scope": failed.scope},
                )
            )
        order_id = new_order_id(now)
        if req.account is not None:
            refused = await account_store.charge(
                conn, req.account, p.amount, order_id=order_id, now=now
            )
            if refused is not None:
                ledger.give_back(taken, sold=req.confirm)
                await claim_store.release(
                    conn, claim_store.from_stored(claim_store.stored(p.claims, self.id_secret))
                )
                return Outcome.denied(refused)
        tickets = (
            issue(order_id, p.venue_id, p.keys, p.tickets, p.valid_from, p.valid_until)
            if req.confirm
            else []
        )
        # Every field below is already validated (request, catalog, tickets): construct
        # without validating again — this runs once per order on the hot path.
        order = Order.model_construct(
            id=order_id,
            channel=req.channel,
            partner_order_id=req.partner_order_id,
            venue_id=p.venue_id,
            state=OrderState.CONFIRMED if req.confirm else OrderState.HELD,
            travel_date=req.travel_date,
            slot=req.slot,
            lines=tuple(
                line.model_copy(update={"unit_price": price})
                for line, price in zip(req.lines, p.unit_prices, strict=True)
            ),
            visitors=req.visitors,
            contact=req.contact,
            amount=p.amount,
            currency=req.currency,
            created_at=now,
            hold_expires_at=None if req.confirm else (req.hold_until or now + self.hold_ttl),
            confirmed_at=now if req.confirm else None,
            tickets=tuple(tickets),
        )
        extra = {
            "plan": plan_json(p),
            "claims": claim_store.stored(p.claims, self.id_secret),
            "channel_data": req.extra,
            **({"account": req.account, "charged": p.amount} if req.account else {}),
        }
        rows.orders.append(records.order_row(order, extra))
        rows.visitors.extend(records.visitor_rows(order, self.ids))
        rows.allocations.extend(
            {"order_id": order_id, "inventory_id": t.inventory_id, "quantity": t.quantity}
            for t in taken
        )
        rows.tickets.extend(records.ticket_row(t, self.ids) for t in tickets)
        if req.confirm:
            rows.flow.confirmed(
                venue_id=p.venue_id,
                channel=req.channel,
                travel_date=req.travel_date,
                slot=req.slot,
                amount=p.amount,
                units=sum(t.units for t in tickets),
                at=now,
                tz=ZoneInfo(p.timezone),
            )
        calls = self.plugins.order_confirmed(order) if req.confirm else []
        rows.calls.extend(calls)
        return Outcome(
            201, {"order": records.order_json(order)}, order_id=order_id, calls=len(calls)
        )

    def _sold_out(self, ledger: BatchLedger, p: Prepared) -> Outcome:
        req = p.request
        if ledger.capped:
            left = ledger.cap_left(p.caps, req.travel_date) or 0
            return Outcome.denied(
                Denial(
                    DenialCode.SOLD_OUT,
                    f"The day's limit of visitors is reached: only {left} left",
                    {"available": left, "day_cap": True},
                )
            )
        remaining: list[int] = []
        for need in p.needs:
            avail = ledger.available(need.pool, req.travel_date, req.slot, p.buckets)
            if avail is None:
                return Outcome.denied(
                    Denial(
                        DenialCode.SLOT_NOT_USABLE,
                        f"Not on sale for {req.travel_date} {req.slot or ''}".strip(),
                    )
                )
            remaining.append(avail)
        available = min(remaining) if remaining else 0
        return Outcome.denied(
            Denial(DenialCode.SOLD_OUT, f"Only {available} left", {"available": available})
        )
