"""No-shows: tickets of an agency's groups still unused after the trip date.

Nothing redeems tickets in the hub yet (the gate bridge will), so "unused" is exactly
"valid with no entry taken". Counted over the agency's policy period; at `warn_at` the
agency is flagged, at `suspend_at` it is suspended (profile AND account, so it can neither
call the API nor be charged). Running it twice is harmless: counts are recomputed, not
accumulated.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hub.domain import TicketState


async def count(orders: Any, store: Any, agency_id: str, today: date, days: int) -> int:
    first = today - timedelta(days=days)
    total = 0
    for _, doc in await store.list("group", limit=100_000):
        if doc.get("agency") != agency_id or doc.get("status") != "confirmed":
            continue
        travel = date.fromisoformat(doc["travel_date"])
        if not first <= travel < today:
            continue
        ids = [doc["order_id"]] + [
            k.split(":", 1)[1] for k, _ in await store.list("link", prefix=f"{doc['order_id']}:")
        ]
        for oid in ids:
            order = await orders.get(oid)
            if order is None:
                continue
            total += sum(
                t.entries_allowed - t.entries_used
                for t in order.tickets
                if t.state is TicketState.VALID
            )
    return total


async def run(orders: Any, agencies: Any, today: date) -> list[dict[str, Any]]:
    """Count every agency's no-shows and apply its policy; returns one line per agency."""
    report = []
    for agency_id, doc in await agencies.store.list("profile", limit=100_000):
        policy = doc.get("no_show") or {}
        days = int(policy.get("period_days", 30))
        n = await count(orders, agencies.store, agency_id, today, days)
        action = "none"
        if n >= int(policy.get("suspend_at", 20)):
            action = "suspended"
            if doc.get("status") != "suspended":
                await agencies.set_status(agency_id, "suspended")
        elif n >= int(policy.get("warn_at", 5)):
            action = "warned"
        report.append({"agency": agency_id, "no_shows": n, "period_days": days, "action": action})
    return report
