"""Who is in a group, as the agency sees it: every visitor with the ticket that admits
them, and the group's JSON view. Per-visitor tickets are their own member ids; a guide's
group ticket admits the whole roster, whose members are ``<ticket id>#<index>``."""

from __future__ import annotations

from typing import Any

from hub.domain import Order, TicketState

BOOKED = {"confirmed", "partly_redeemed"}


def live_members(orders: list[Order]) -> list[dict[str, Any]]:
    return [m for m in all_members(orders) if m["ticket"].state is not TicketState.REVOKED]


def all_members(orders: list[Order]) -> list[dict[str, Any]]:
    """Every visitor of the group with the ticket that admits them. A per-visitor ticket
    is its own member id; a guide's group ticket admits the whole roster of its order,
    whose members are ``<ticket id>#<visitor index>``."""
    out = []
    for order in orders:
        if order.state.value not in BOOKED and order.state.value != "held":
            continue
        for t in order.tickets:
            if t.units == 1:
                out.append(_member(t.id, order, t.visitor_index, t))
            else:
                out.extend(_member(f"{t.id}#{i}", order, i, t) for i in range(t.units))
    return out


def _member(member_id: str, order: Order, index: int | None, ticket: Any) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "ticket_id": ticket.id,
        "order_id": order.id,
        "visitor": order.visitors[index]
        if index is not None and index < len(order.visitors)
        else None,
        "visitor_index": index,
        "ticket": ticket,
    }


def render(doc: dict[str, Any], orders: list[Order], *, replay: bool = False) -> dict[str, Any]:
    main = orders[0]
    return {
        "group": {
            **{k: doc[k] for k in ("order_no", "order_id", "status", "cutoff", "guide")},
            "agency": doc["agency"],
            "product_id": doc["product_id"],
            "travel_date": doc["travel_date"],
            "slot": doc["slot"],
            "head_count": doc["head_count"],
            "state": main.state.value,
            "amount": sum(o.amount for o in orders),
            "orders": [{"id": o.id, "state": o.state.value, "amount": o.amount} for o in orders],
            "ticket_mode": doc.get("ticket_mode", "per_visitor"),
            "members": [
                {
                    "member_id": m["member_id"],
                    "ticket_id": m["ticket_id"],
                    "order_id": m["order_id"],
                    "visitor": m["visitor"].masked() if m["visitor"] else None,
                    "entries_allowed": m["ticket"].entries_allowed,
                    "credential": m["ticket"].credential,
                }
                for m in live_members(orders)
            ],
        },
        "replay": replay,
    }
