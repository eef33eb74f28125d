"""Gate decisions uploaded by venue bridges, recorded once by the decider's id.

One upload is one transaction, so a batch cut in the middle (connection lost, hub
killed) either committed whole or not at all; the bridge re-sends it and every id that
already exists is skipped (``INSERT … ON CONFLICT DO NOTHING RETURNING id``). The
insert comes FIRST: only the transaction whose insert created a row goes on to count it,
so two concurrent copies of one upload cannot both count an entry.

Counting an admitted entry: the ticket's ``entries_used`` grows (never past
``entries_allowed``), its order moves to partly_redeemed / redeemed, the
``ticket_redeemed`` hook fires and its partner calls go to the outbox in this same
transaction, and the venue's flow counters move. An admission that cannot count — the
ticket was used up at another bridge while both were offline, or refunded meanwhile — is
kept with a ``conflict`` code, counted in the flow and the metrics, and logged as an
alert: the visitor is already inside, so the fact is recorded, not refused.

Lock order (deadlock freedom against refunds, which lock the order then its tickets):
orders, then tickets, then the flow row, then the venue's change counter last.

The upload's wire models are `hub.redemptions.upload_models`; the order and redemption
the hook is handed are rebuilt in `hub.redemptions.hook_view`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.contracts import PartnerCall
from hub.domain import Order, OrderState, TicketState
from hub.domain.combo import Parts, all_used, check_part, dump_parts, load_parts
from hub.domain.order import can_move
from hub.metrics import REDEMPTION_CONFLICTS, REDEMPTIONS
from hub.orders import records
from hub.plugins import HubPlugins
from hub.redemptions.changes import next_seq
from hub.redemptions.hook_view import hook_order, hook_redemption
from hub.redemptions.upload_models import RedemptionIn, UploadIn, UploadResult
from hub.storage.sealed import IdNumbers
from hub.storage.tables import FlowCountRow, RedemptionRow
from hub.wall.counters import FlowDelta

log = logging.getLogger(__name__)

RED = RedemptionRow.__table__
FLOW = FlowCountRow.__table__
ORD = records.ORD
TIX = records.TIX
VIS = records.VIS
Enqueue = Callable[[AsyncConnection, Sequence[PartnerCall]], Awaitable[int]]


def _insert(conn: AsyncConnection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert


class RedemptionRecorder:
    """Records bridge uploads (see the module docstring for the guarantees)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        plugins: HubPlugins,
        enqueue: Enqueue,
        ids: IdNumbers,
        tz_of: Callable[[str], Awaitable[ZoneInfo]],
        now: Callable[[], datetime],
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.on_change = on_change  # the flow wall hears of new counts (`hub.wall`)
        self.ids = ids
        self.plugins = plugins
        self.enqueue = enqueue
        self.tz_of = tz_of
        self.now = now

    async def record(
        self, venue_id: str, upload: UploadIn, *, on_calls: Callable[[], None] | None = None
    ) -> UploadResult:
        tz = await self.tz_of(venue_id)
        async with self.engine.begin() as conn:
            result, calls = await self._record(conn, venue_id, upload, tz)
        if calls and on_calls is not None:
            on_calls()
        if result.recorded and self.on_change is not None:
            self.on_change(venue_id)
        self._metrics(venue_id, upload, result)
        return result

    # -- inside the transaction ------------------------------------------------------------
    async def _record(
        self, conn: AsyncConnection, venue_id: str, upload: UploadIn, tz: ZoneInfo
    ) -> tuple[UploadResult, int]:
        items = {r.id: r for r in upload.redemptions}  # a batch repeating an id: once
        if not items:
            return UploadResult(0, 0, 0, []), 0
        received = self.now()
        rows = [_row(r, venue_id, upload.bridge, received) for r in items.values()]
        # executemany ("insertmanyvalues"): batched multi-row VALUES with a cached
        # compilation; RETURNING lists only the rows this transaction created
        res = await conn.execute(
            _insert(conn)(RED).on_conflict_do_nothing().returning(RED.c.id), rows
        )
        new_ids = set(res.scalars().all())
        new = sorted(
            (items[i] for i in new_ids), key=lambda r: (r.at, r.id)
        )  # earliest admission counts first
        counting = [r for r in new if _counts(r)]
        staff_let_in = [r for r in new if _ticketless_passage(r)]
        tickets, orders = await self._lock(conn, venue_id, counting)
        conflicts: dict[str, str] = {}
        counted: list[RedemptionIn] = []
        changed: dict[str, str] = {}
        delta = FlowDelta()
        for r in counting:
            t = tickets.get(r.ticket_id)
            if t is None:
                conflicts[r.id] = "UNKNOWN_TICKET"
                continue
            if r.direction == "out":
                counted.append(r)
                continue
            if t["state"] == TicketState.REVOKED.value:
                conflicts[r.id] = "TICKET_REVOKED"
                continue
            if t["entries_used"] >= t["entries_allowed"]:
                conflicts[r.id] = "ENTRIES_EXHAUSTED"
                continue
            parts = load_parts(t["parts"])
            if parts is not None:
                taken = _take_part(parts, r.part)
                if isinstance(taken, str):
                    conflicts[r.id] = taken
                    continue
                parts = taken
                t["parts"] = dump_parts(parts)
            if t["entries_used"] == 0:  # the ticket's holders arrived
                o = orders[t["order_id"]]
                delta.slot(venue_id, o.travel_date, o.slot, arrived=int(t["units"] or 1))
            t["entries_used"] += 1
            if t["entries_used"] >= t["entries_allowed"] or (parts and all_used(parts)):
                t["state"] = TicketState.USED.value
            changed[t["id"]] = venue_id
            counted.append(r)
        if conflicts:
            await conn.execute(
                update(RED)
                .where(RED.c.id == bindparam("r_id"))
                .values(counted=False, conflict=bindparam("r_conflict")),
                [{"r_id": k, "r_conflict": v} for k, v in conflicts.items()],
            )
            for rid, code in conflicts.items():
                log.warning(
                    "ALERT redemption conflict at venue %s: %s (ticket %s, redemption %s)",
                    venue_id,
                    code,
                    items[rid].ticket_id,
                    rid,
                )
        if changed:
            # The change number is taken here; the rest of this transaction is in-memory
            # work and a few small writes, so the venue's counter is locked only briefly
            # (see `hub.redemptions.changes`).
            seq = await next_seq(conn, venue_id)
            await conn.execute(
                update(TIX)
                .where(TIX.c.id == bindparam("t_id"))
                .values(
                    entries_used=bindparam("t_used"),
                    state=bindparam("t_state"),
                    parts=bindparam("t_parts"),
                    change_seq=seq,
                ),
                [
                    {
                        "t_id": i,
                        "t_used": tickets[i]["entries_used"],
                        "t_state": tickets[i]["state"],
                        "t_parts": tickets[i]["parts"],
                    }
                    for i in sorted(changed)
                ],
            )
        calls = await self._orders_and_hooks(conn, venue_id, counted, tickets, orders, received)
        passages = [*counted, *staff_let_in]  # people through a gate, ticket or not
        await self._flow(conn, venue_id, new, passages, conflicts, tz)
        for r in passages:
            delta.passage(venue_id, r.at, tz, r.gate, entry=r.direction == "in")
        await delta.flush(conn)  # last: see `hub.wall.counters`
        result = UploadResult(
            recorded=len(new_ids),
            duplicates=len(items) - len(new_ids),
            counted=len(passages),
            conflicts=sorted(conflicts),
        )
        return result, calls

    async def _lock(
        self, conn: AsyncConnection, venue_id: str, counting: Sequence[RedemptionIn]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """The tickets the new admissions name (this venue's only), with their orders
        locked first, then the tickets (the refund path's order)."""
        ids = sorted({r.ticket_id for r in counting if r.ticket_id})
        if not ids:
            return {}, {}
        pg = conn.dialect.name == "postgresql"
        owners = await conn.execute(
            select(TIX.c.order_id).where(TIX.c.id.in_(ids), TIX.c.venue_id == venue_id)
        )
        order_ids = sorted(set(owners.scalars().all()))
        stmt = select(ORD).where(ORD.c.id.in_(order_ids)).order_by(ORD.c.id)
        order_rows = (await conn.execute(stmt.with_for_update() if pg else stmt)).all()
        tstmt = (
            select(TIX).where(TIX.c.order_id.in_(order_ids)).order_by(TIX.c.id)
        )  # all tickets of those orders: the order's new state depends on each of them
        trows = (await conn.execute(tstmt.with_for_update() if pg else tstmt)).all()
        tickets = {r.id: dict(r._mapping) for r in trows}
        return tickets, {r.id: r for r in order_rows}

    async def _orders_and_hooks(
        self,
        conn: AsyncConnection,
        venue_id: str,
        counted: Sequence[RedemptionIn],
        tickets: dict[str, dict[str, Any]],
        order_rows: dict[str, Any],
        now: datetime,
    ) -> int:
        entries = [r for r in counted if r.direction == "in"]
        if not entries:
            return 0
        touched = sorted({tickets[r.ticket_id]["order_id"] for r in entries})
        by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for t in tickets.values():
            by_order[t["order_id"]].append(t)
        visitors: dict[str, list[Any]] = defaultdict(list)  # the hook gets whole orders
        vrows = await conn.execute(
            select(VIS).where(VIS.c.order_id.in_(touched)).order_by(VIS.c.order_id, VIS.c.idx)
        )
        for v in vrows.all():
            visitors[v.order_id].append(v)
        orders: dict[str, Order] = {}
        moves: list[dict[str, Any]] = []
        for oid in touched:
            row = order_rows[oid]
            state = OrderState(row.state)
            live = [t for t in by_order[oid] if t["state"] != TicketState.REVOKED.value]
            if live and all(t["state"] == TicketState.USED.value for t in live):
                dst = OrderState.REDEEMED
            else:
                dst = OrderState.PARTLY_REDEEMED
            if dst is not state and can_move(state, dst):
                moves.append({"o_id": oid, "o_state": dst.value, "o_from": state.value})
                state = dst
            orders[oid] = hook_order(row, state, by_order[oid], visitors.get(oid, []), self.ids)
        if moves:
            await conn.execute(
                update(ORD)
                .where(ORD.c.id == bindparam("o_id"), ORD.c.state == bindparam("o_from"))
                .values(state=bindparam("o_state"), updated_at=now),
                moves,
            )
        calls: list[PartnerCall] = []
        by_id = {t.id: t for o in orders.values() for t in o.tickets}
        for r in entries:
            order = orders[tickets[r.ticket_id]["order_id"]]
            ticket = by_id[r.ticket_id]
            calls.extend(self.plugins.ticket_redeemed(order, ticket, hook_redemption(r, venue_id)))
        if calls:
            await self.enqueue(conn, calls)
        return len(calls)

    async def _flow(
        self,
        conn: AsyncConnection,
        venue_id: str,
        new: Sequence[RedemptionIn],
        counted: Sequence[RedemptionIn],
        conflicts: dict[str, str],
        tz: ZoneInfo,
    ) -> None:
        """Add this upload to the per-day counters (the in-park gauge reads them back,
        `hub.gauges`, so every hub process reports the same number)."""
        per_day: dict[date, dict[str, int]] = defaultdict(
            lambda: {"entries": 0, "exits": 0, "denied": 0, "conflicts": 0}
        )
        for r in counted:
            per_day[r.at.astimezone(tz).date()]["entries" if r.direction == "in" else "exits"] += 1
        for r in new:
            day = per_day[r.at.astimezone(tz).date()]
            if not r.accepted:
                day["denied"] += 1
            elif r.id in conflicts:
                day["conflicts"] += 1
        ins = _insert(conn)(FLOW)
        for day in sorted(per_day):
            n = per_day[day]
            stmt = ins.values(venue_id=venue_id, day=day, **n).on_conflict_do_update(
                index_elements=[FLOW.c.venue_id, FLOW.c.day],
                set_={k: FLOW.c[k] + ins.excluded[k] for k in n},
            )
            await conn.execute(stmt)

    def _metrics(self, venue_id: str, upload: UploadIn, result: UploadResult) -> None:
        if result.recorded:
            REDEMPTIONS.labels(venue_id, "recorded").inc(result.recorded)
        if result.duplicates:
            REDEMPTIONS.labels(venue_id, "duplicate").inc(result.duplicates)
        if result.conflicts:
            REDEMPTION_CONFLICTS.labels(venue_id).inc(len(result.conflicts))


def _take_part(parts: Parts, part: str) -> Parts | str:
    """One entry taken from a combo's ``part`` (the bridge names it; a device that decided
    from its own list names none: its first part with an entry left), or the conflict
    code when that part cannot give one (used up at another bridge, refunded)."""
    if not part:
        part = next((k for k, p in parts.items() if p.left), "")
    denial = check_part(parts, part or None, parts[part].used if part in parts else 0)
    if denial is not None:
        return str(denial.code)
    p = parts[part]
    return {**parts, part: p.model_copy(update={"used": p.used + 1})}


def _counts(r: RedemptionIn) -> bool:
    """An admission (or exit) that moves a ticket and the flow: accepted, for a ticket.
    Staff manual admissions without a ticket count no ticket (`_ticketless_passage`
    counts them in the flow only)."""
    return r.accepted and bool(r.ticket_id)


def _ticketless_passage(r: RedemptionIn) -> bool:
    """Staff let someone in (or out) without a ticket (the handheld page, ``tickethub
    bridge admit``): no ticket moves, but the person is inside (or gone) — the flow
    (in-park) and the gate's passages count them."""
    return r.accepted and r.kind == "manual" and not r.ticket_id


def _row(r: RedemptionIn, venue_id: str, bridge: str, received: datetime) -> dict[str, Any]:
    return {
        "id": r.id,
        "ticket_id": r.ticket_id,
        "venue_id": venue_id,
        "gate": r.gate,
        "device": r.device,
        "medium": r.medium,
        "direction": r.direction,
        "at": r.at,
        "accepted": r.accepted,
        "code": r.code,
        "kind": r.kind,
        "bridge": bridge,
        "offline": r.offline,
        "device_at": r.device_at,
        "received_at": received,
        "counted": _counts(r) or _ticketless_passage(r),  # corrected below for conflicts
        "conflict": "",
        "staff": r.staff,
        "note": r.note,
        "part": r.part,
    }
