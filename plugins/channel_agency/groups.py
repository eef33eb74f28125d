"""Group orders: booking, roster amendments, staff approval and refunds.

Every money-and-stock change is ONE core operation (`OrderService.place`, ``confirm``,
``cancel``, ``refund``), each atomic and idempotent on a key derived from the agency's own
numbers. The plugin store only remembers what the core has no column for (guide, cut-off,
approval status, which amendment orders belong to a group); it is written with
insert-if-absent after the core committed, and can be rebuilt from the orders on a replay,
so a crash between the two leaves nothing half-written.

An amendment is "book the added visitors as a linked order, then refund the removed
visitors' tickets" — booking first, so a refused addition (sold out, no money, per-ID
limit) changes nothing. The price of that order of steps: a replacement needs one free
place for a moment; it is documented, and cheaper than a new core operation.
"""

from __future__ import annotations

import base64
from datetime import date, datetime, time, timedelta
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from hub.domain import Order, OrderLine, OrderRequest, TicketState, Visitor
from hub.domain.masking import mask_id
from hub.sdk import Outcome
from hub.sdk.web import ApiError
from plugins.channel_agency.members import all_members, live_members, render
from plugins.channel_agency.profiles import STORE, account_id
from plugins.channel_agency.roster import check_visitors, roster_report_csv

CHANNEL = "agency"


class GuideIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=100)
    licence_no: str = Field(default="", max_length=64)
    phone: str | None = Field(default=None, max_length=32)


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    order_no: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-]+$")
    product_id: str = Field(min_length=1, max_length=64)
    travel_date: date
    slot: str = Field(default="", max_length=32)
    head_count: int = Field(ge=1, le=1000)
    guide: GuideIn | None = None
    visitors: list[Visitor] = Field(default_factory=list, max_length=1000)
    roster_id: str | None = Field(default=None, max_length=64)
    amount: int | None = Field(default=None, ge=0)


class AmendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amendment_no: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._\-]+$")
    remove: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="member ids (a per-visitor ticket id, or <group ticket id>#<index>)",
    )
    add: list[Visitor] = Field(default_factory=list, max_length=1000)


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refund_no: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._\-]+$")
    ticket_ids: list[str] | None = Field(default=None, max_length=1000)


def seal_roster(ids: Any, key: str, visitors: list[Visitor]) -> dict[str, Any]:
    """An uploaded roster as kept until it is booked (a day at most): its visitors, ID
    numbers included, sealed like the order's own rows (`hub.storage.sealed`), base64."""
    text = orjson.dumps([v.model_dump(mode="json") for v in visitors]).decode()
    blob = ids.seal(f"plugin_record/agency/roster/{key}", text)
    return {"sealed": base64.b64encode(blob).decode(), "count": len(visitors)}


def open_roster(ids: Any, key: str, doc: dict[str, Any]) -> list[Visitor]:
    if "visitors" in doc:  # kept in clear by a hub before rosters were sealed (expires in a day)
        return [Visitor.model_validate(v) for v in doc["visitors"]]
    text = ids.open(f"plugin_record/agency/roster/{key}", base64.b64decode(doc["sealed"]))
    return [Visitor.model_validate(v) for v in orjson.loads(text)]


def roster_error(errors: list[Any], warnings: list[Any] = ()) -> ApiError:  # type: ignore[assignment]
    return ApiError(
        422,
        "ROSTER_INVALID",
        f"{len(errors)} problem(s) in the roster",
        errors=[e.as_dict() for e in errors],
        report_csv=roster_report_csv(errors, warnings),
    )


def fail(outcome: Outcome, visitors: list[Visitor] | None = None) -> ApiError:
    """A core refusal in the agency API's vocabulary; a per-ID limit is pinned to the row
    of the visitor it names (the core masks the ID, so the masks are compared)."""
    body = dict(outcome.body)
    details = dict(body.get("details") or {})
    if outcome.code == "ID_DAILY_LIMIT" and visitors:
        msg = str(body.get("message", ""))
        rows = [
            i + 1 for i, v in enumerate(visitors) if v.id_number and mask_id(v.id_number) in msg
        ]
        if rows:
            details["errors"] = [
                {
                    "row": r,
                    "field": "id_number",
                    "code": "ALREADY_BOOKED",
                    "message": "already booked on another order for that day",
                }
                for r in rows
            ]
    return ApiError(outcome.status, str(body.get("code")), str(body.get("message")), **details)


class Groups:
    def __init__(self, ctx: Any, agencies: Any) -> None:
        self.ctx = ctx
        self.agencies = agencies

    @property
    def store(self) -> Any:
        return self.ctx.store(STORE)

    # -- booking ---------------------------------------------------------------------------
    async def book(self, agency: dict[str, Any], body: GroupIn) -> dict[str, Any]:
        agency_id = agency["id"]
        visitors = list(body.visitors)
        if body.roster_id:
            key = f"{agency_id}:{body.roster_id}"
            roster = await self.store.get("roster", key)
            if roster is None:
                raise ApiError(404, "UNKNOWN_ROSTER", "No such roster (uploads expire in a day)")
            visitors = open_roster(self.ctx.orders.ids, key, roster)
        elif visitors:
            parsed = check_visitors(visitors)
            if not parsed.ok:
                raise roster_error(parsed.errors, parsed.warnings)
            visitors = parsed.visitors
        if not visitors:
            # A group is booked with its roster: without one there is nobody to issue
            # tickets to, and nothing is held or charged for it.
            raise ApiError(
                422,
                "ROSTER_REQUIRED",
                "A group is booked with its roster: send visitors or a roster_id",
                errors=[
                    {
                        "field": "visitors",
                        "code": "ROSTER_REQUIRED",
                        "message": "no visitors and no roster_id",
                    }
                ],
            )
        if len(visitors) != body.head_count:
            raise ApiError(
                422,
                "VISITOR_COUNT_MISMATCH",
                f"head_count is {body.head_count} but the roster has {len(visitors)}",
            )
        policy = await self.agencies.product_policy(body.product_id)
        approval = bool(policy.get("require_approval", agency.get("require_approval")))
        mode = policy.get("ticket_mode") or agency.get("ticket_mode", "per_visitor")
        now = self.ctx.clock.now()
        request = OrderRequest(
            channel=CHANNEL,
            partner_order_id=f"{agency_id}:{body.order_no}",
            lines=(OrderLine(product_id=body.product_id, quantity=body.head_count),),
            visitors=tuple(visitors),
            travel_date=body.travel_date,
            slot=body.slot,
            amount=body.amount,
            account=account_id(agency_id),
            confirm=not approval,
            hold_until=now + timedelta(hours=int(agency.get("approval_hours", 48)))
            if approval
            else None,
            group_ticket=mode == "group",
            extra={"agency": agency_id},
        )
        outcome = await self.ctx.orders.place(request)
        if not outcome.ok:
            raise fail(outcome, visitors)
        order = outcome.body["order"]
        cutoff = policy.get("cutoff") or agency.get("cutoff") or {}
        doc = {
            "agency": agency_id,
            "order_no": body.order_no,
            "order_id": order["id"],
            "product_id": body.product_id,
            "travel_date": order["travel_date"],
            "slot": body.slot,
            "head_count": body.head_count,
            "ticket_mode": mode,
            "guide": body.guide.model_dump() if body.guide else None,
            "status": "pending" if approval else "confirmed",
            "cutoff": (await self._cutoff(order, cutoff)).isoformat(),
            "created_at": now.isoformat(),
        }
        await self.store.add("group", order["id"], doc)  # no-op on a replay
        return await self.view(agency_id, body.order_no, replay=outcome.replay)

    async def _cutoff(self, order: dict[str, Any], cutoff: dict[str, Any]) -> datetime:
        tz = await self.ctx.orders.catalog.tz(order["venue_id"])
        day = datetime.fromisoformat(order["travel_date"]).date()
        at = time.fromisoformat(cutoff.get("at", "18:00"))
        return datetime.combine(day - timedelta(days=int(cutoff.get("days_before", 1))), at, tz)

    # -- reading -----------------------------------------------------------------------------
    async def find(self, agency_id: str, order_no: str) -> tuple[dict[str, Any], list[Order]]:
        main = await self.ctx.orders.get(
            channel=CHANNEL, partner_order_id=f"{agency_id}:{order_no}"
        )
        if main is None:
            raise ApiError(404, "UNKNOWN_ORDER", f"No group {order_no}")
        return await self.load(main.id)

    async def load(self, order_id: str) -> tuple[dict[str, Any], list[Order]]:
        doc = await self.store.get("group", order_id)
        main = await self.ctx.orders.get(order_id)
        if doc is None or main is None:
            raise ApiError(404, "UNKNOWN_ORDER", f"No group order {order_id}")
        orders = [main]
        for key, _ in await self.store.list("link", prefix=f"{order_id}:"):
            linked = await self.ctx.orders.get(key.split(":", 1)[1])
            if linked is not None:
                orders.append(linked)
        return doc, orders

    async def view(self, agency_id: str, order_no: str, *, replay: bool = False) -> dict[str, Any]:
        doc, orders = await self.find(agency_id, order_no)
        return render(doc, orders, replay=replay)

    # -- amendments ----------------------------------------------------------------------------
    async def amend(self, agency_id: str, order_no: str, body: AmendIn) -> dict[str, Any]:
        """Change the roster until the cut-off. A removal paired with an addition is a
        replacement, swapped in place by the core (same place, same money; a group's
        minimum size is not tested against the newcomer alone). What is left over is a
        refund (removals) or a linked order (additions, within the booked head count).
        Every step is idempotent on the amendment number, so a retried amendment returns
        the group as the first one left it."""
        done_key = f"{agency_id}:{order_no}:{body.amendment_no}"
        if await self.store.get("amendment", done_key) is not None:
            return await self.view(agency_id, order_no, replay=True)
        doc, orders = await self.find(agency_id, order_no)
        if doc["status"] != "confirmed":
            raise ApiError(409, "INVALID_STATE", f"Group is {doc['status']}")
        if self.ctx.clock.now() >= datetime.fromisoformat(doc["cutoff"]):
            raise ApiError(409, "ROSTER_CLOSED", f"Roster changes closed at {doc['cutoff']}")
        if not body.remove and not body.add:
            raise ApiError(400, "INVALID_REQUEST", "Nothing to change")
        members = live_members(orders)
        live = {m["member_id"]: m for m in members}
        # Revoked tickets too: a retried amendment names tickets its first try replaced.
        every = {m["member_id"]: m for m in all_members(orders)}
        unknown = [t for t in body.remove if t not in every]
        if unknown:
            raise ApiError(404, "UNKNOWN_TICKET", f"No ticket {unknown[0]} in this group")
        gone = [t for t in body.remove if t not in live]
        if gone and not await self._already_done(agency_id, order_no, body):
            raise ApiError(409, "INVALID_STATE", f"Ticket {gone[0]} is no longer live")
        remaining = [m for m in members if m["member_id"] not in body.remove]
        added: list[Visitor] = []
        if body.add:
            parsed = check_visitors([m["visitor"] for m in remaining] + list(body.add))
            if not parsed.ok:
                raise roster_error(parsed.errors, parsed.warnings)
            added = parsed.visitors[len(remaining) :]
        linked_key = f"{agency_id}:{order_no}/{body.amendment_no}"
        swaps = [
            (every[t], v)
            for t, v in zip(body.remove, added, strict=False)
            if every[t]["visitor_index"] is not None
        ]
        swapped = {m["member_id"] for m, _ in swaps}
        extra_add = added[len(swaps) :]
        to_refund = [live[m]["ticket_id"] for m in body.remove if m not in swapped and m in live]
        if to_refund and doc.get("ticket_mode") == "group":
            raise ApiError(
                409,
                "GROUP_TICKET",
                "One group ticket admits the whole roster: replace visitors, or refund the group",
            )
        grows = len(extra_add) - len([t for t in body.remove if t not in swapped])
        if len(members) + grows > int(doc["head_count"]):
            raise ApiError(
                422,
                "OVER_HEAD_COUNT",
                f"The group is booked for {doc['head_count']} visitors",
                head_count=doc["head_count"],
            )
        per_order: dict[str, dict[int, Visitor]] = {}
        for member, visitor in swaps:
            per_order.setdefault(member["order_id"], {})[member["visitor_index"]] = visitor
        for order_id, changes in per_order.items():
            outcome = await self.ctx.orders.replace_visitors(
                order_id, changes, key=f"{CHANNEL}\x1freplace\x1f{linked_key}:{order_id}"
            )
            if not outcome.ok:
                raise fail(outcome, [m["visitor"] for m in remaining] + added)
        new_order: dict[str, Any] | None = None
        if extra_add:
            outcome = await self.ctx.orders.place(
                OrderRequest(
                    channel=CHANNEL,
                    partner_order_id=linked_key,
                    lines=(OrderLine(product_id=doc["product_id"], quantity=len(extra_add)),),
                    visitors=tuple(extra_add),
                    travel_date=doc["travel_date"],
                    slot=doc["slot"],
                    account=account_id(agency_id),
                    confirm=True,
                    extra={"agency": agency_id, "group": doc["order_id"]},
                )
            )
            if not outcome.ok:
                raise fail(outcome, [m["visitor"] for m in remaining] + added)
            new_order = outcome.body["order"]
            await self.store.add("link", f"{doc['order_id']}:{new_order['id']}", {})
        try:
            if to_refund:
                await self._refund_tickets(orders, to_refund, f"amend:{linked_key}")
        except ApiError:
            if new_order is not None:  # compensate: the amendment is all or nothing
                await self.ctx.orders.cancel(new_order["id"])
            raise
        await self.store.add("amendment", done_key, {"at": self.ctx.clock.now().isoformat()})
        return await self.view(agency_id, order_no)

    async def _already_done(self, agency_id: str, order_no: str, body: AmendIn) -> bool:
        """A replayed amendment names tickets it already refunded: not an error."""
        _, orders = await self.find(agency_id, order_no)
        revoked = {t.id for o in orders for t in o.tickets if t.state is TicketState.REVOKED}
        return all(m.split("#")[0] in revoked for m in body.remove)

    # -- refunds -------------------------------------------------------------------------------
    async def refund(self, doc: dict[str, Any], body: RefundIn) -> dict[str, Any]:
        _, orders = await self.load(doc["order_id"])
        live = list(dict.fromkeys(m["ticket_id"] for m in live_members(orders)))
        wanted = body.ticket_ids
        if wanted is None:
            wanted = live
        elif doc.get("ticket_mode") == "group" and (
            any("#" in w for w in wanted) or set(wanted) != set(live)
        ):
            raise ApiError(409, "GROUP_TICKET", "A group ticket is refunded whole")
        known = {t.id for o in orders for t in o.tickets}
        for tid in wanted:
            if tid not in known:
                raise ApiError(404, "UNKNOWN_TICKET", f"No ticket {tid} in this group")
        if not wanted:
            raise ApiError(409, "INVALID_STATE", "Nothing left to refund")
        refunded = await self._refund_tickets(orders, wanted, f"refund:{body.refund_no}")
        doc2, orders2 = await self.load(doc["order_id"])
        return {**render(doc2, orders2), "refunded_amount": refunded}

    async def _refund_tickets(self, orders: list[Order], ticket_ids: list[str], op: str) -> int:
        total = 0
        for order in orders:
            mine = [t.id for t in order.tickets if t.id in set(ticket_ids)]
            if not mine:
                continue
            key = f"{CHANNEL}\x1f{op}\x1f{order.id}"
            outcome = await self.ctx.orders.refund(order.id, mine, key=key)
            if not outcome.ok:
                raise fail(outcome)
            total += sum(
                (line.unit_price or 0) * t.units
                for line in order.lines
                for t in order.tickets
                if t.id in mine and t.product_id == line.product_id
            )
        return total

    # -- approval --------------------------------------------------------------------------------
    async def pending(self) -> list[dict[str, Any]]:
        return [d for _, d in await self.store.list("group") if d.get("status") == "pending"]

    async def decide(self, order_id: str, approve: bool) -> dict[str, Any]:
        doc, _ = await self.load(order_id)
        if doc["status"] != "pending":
            raise ApiError(409, "INVALID_STATE", f"Group is {doc['status']}")
        op = "confirm" if approve else "cancel"
        key = f"{CHANNEL}\x1f{op}\x1f{order_id}"
        outcome = await getattr(self.ctx.orders, op)(order_id, key=key)
        if not outcome.ok:
            raise fail(outcome)
        doc = {**doc, "status": "confirmed" if approve else "rejected"}
        await self.store.put("group", order_id, doc)
        doc, orders = await self.load(order_id)
        return render(doc, orders)
