"""Douyin stock: Douyin PULLS it ("批量拉取价格库存" SPI, wave2-facts 1c) — the hub pushes
nothing (Douyin's push APIs exist in its console but their URLs are not public:
*unconfirmed*), so each pull is answered from LIVE stock for the Douyin channel (its
allotment when it has one).

Request: ``product_out_id`` (our product id), ``start_date``/``end_date`` (yyyy-MM-dd, at
most 60 days, Douyin's own cap), ``ticket_specifications[{sku_id, sku_out_id}]``. Answer:
``data.ticket_sku_and_calendar[{ticket_specification, calendar_list[...]}]`` with ONE
``calendar_list`` per spec (Douyin's rule), one entry per day: ``calendar_type`` 1 (date
range) over that single day, and our ``stock`` and ``price`` (fen) beside it — the
price/stock field names inside an entry are not in the public copies: *unconfirmed*.
The all-day figure is the sum of the day's slots (``sku_out_id`` may name one slot
code to get that slot alone).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hub.sdk.channels import Inbound

CHANNEL = "douyin"
MAX_DAYS = 60


async def calendar(ctx: Any, body: dict[str, Any]) -> list[dict[str, Any]] | str:
    product_id = str(body.get("product_out_id") or "")
    if not product_id:
        return "product_out_id missing"
    try:
        first = date.fromisoformat(str(body.get("start_date") or ""))
        last = date.fromisoformat(str(body.get("end_date") or ""))
    except ValueError:
        return "start_date/end_date must be yyyy-MM-dd"
    if last < first or (last - first).days >= MAX_DAYS:
        return f"the range must be 1..{MAX_DAYS} days, start before end"
    specs = body.get("ticket_specifications") or [{"sku_id": "", "sku_out_id": ""}]
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        return "ticket_specifications must be a list of objects"
    days: list[tuple[date, dict[str, Any]]] = []
    day = first
    while day <= last:
        days.append((day, await ctx.orders.availability(product_id, day, CHANNEL)))
        day += timedelta(days=1)
    out = []
    for spec in specs:
        slot = str(spec.get("sku_out_id") or "")
        entries = []
        for d, avail in days:
            slots = [s for s in avail.get("slots", ()) if not slot or s.get("code") == slot]
            prices = [s.get("price") for s in slots if s.get("price") is not None]
            entries.append(
                {
                    "calendar_type": 1,
                    "calendar_value": {"start_date": d.isoformat(), "end_date": d.isoformat()},
                    "stock": sum(int(s.get("available", 0)) for s in slots),
                    "price": min(prices) if prices else None,
                }
            )
        out.append(
            {
                "ticket_specification": {
                    "sku_id": spec.get("sku_id", ""),
                    "sku_out_id": spec.get("sku_out_id", ""),
                },
                "calendar_list": entries,
            }
        )
    return out


async def answer(spi: Any, call: Inbound) -> dict[str, Any]:
    rows = await calendar(spi.ctx, call.body)
    if isinstance(rows, str):
        return spi.inbound.answer("INVALID_REQUEST", call.operation, detail=rows)  # type: ignore[no-any-return]
    return spi.inbound.answer(  # type: ignore[no-any-return]
        "OK", call.operation, body={"ticket_sku_and_calendar": rows}
    )
