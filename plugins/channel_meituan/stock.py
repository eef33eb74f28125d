"""Meituan stock: a change notice, then Meituan pulls the price calendar.

Push side (`MeituanStockPusher`, driven by `hub.stockpush`): for every stock change of a
product Meituan lists, the "多层价格日历变化通知V2" notice (``price_notice`` in the spec,
``POST /rhone/mtp/api/level/price/notice/v2``) names the product (``partnerDealId``) and
the changed window (``startTime`` .. ``endTime``, yyyy-MM-dd). It carries no numbers:
Meituan answers it by pulling the calendar, so whatever it reads is the stock of that
moment (and a notice can never deliver an older number than a newer one).

Pull side (`price_calendar`, operation ``price/calendar``): one row per day and slot
from LIVE stock for the Meituan channel (its allotment when it has one), in the row shape
one public integration shows (wave2-facts 1b: ``partnerPrimaryKey``, ``priceDate``,
``skuInfo{startTime, endTime}``, ``marketPrice``/``mtPrice``/``settlementPrice`` in yuan,
``stock``) — *unconfirmed by an official doc*, as is the notice's field list.

No per-resource limit is documented for Meituan, so the window is 0 (pushed as soon as
the previous notice of the product landed); ``MEITUAN_STOCK_WINDOW_SECONDS`` sets one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from hub.sdk import DeliveryError
from hub.sdk.channels import Inbound
from hub.sdk.stock import StockLine

if TYPE_CHECKING:
    from plugins.channel_meituan.channel import MeituanChannel

CHANNEL = "meituan"
NOTICE = "price_notice"
MAX_DAYS = 90  # what Meituan pulls at most per call (the calendar's horizon)


def _window(raw: Any) -> float:
    try:
        return 0.0 if raw in (None, "") else max(0.0, float(raw))
    except (TypeError, ValueError):
        return 0.0


class MeituanStockPusher:
    """`hub.stockpush.StockPusher` for Meituan: the change notice (module doc)."""

    channel = CHANNEL
    batch_max = 500
    calls_per_minute = None  # none documented
    adapter: MeituanChannel | None = None

    @classmethod
    def bind(cls, adapter: MeituanChannel) -> None:
        cls.adapter = adapter

    @property
    def window_seconds(self) -> float:
        ctx = self.adapter.ctx if self.adapter is not None else None
        return _window(ctx.settings.get("MEITUAN_STOCK_WINDOW_SECONDS") if ctx else None)

    def ready(self) -> bool:
        return self.adapter is not None and self.adapter.deliveries is not None

    async def push(self, product_id: str, lines: Sequence[StockLine]) -> None:
        deliveries = self.adapter.deliveries if self.adapter is not None else None
        if deliveries is None or not lines:
            raise DeliveryError("meituan notices are not configured", retryable=False)
        days = sorted({line.day for line in lines})
        body = {
            "partnerDealId": product_id,
            "startTime": days[0].isoformat(),
            "endTime": days[-1].isoformat(),
        }
        await deliveries.outbound.send(deliveries.ctx.http, NOTICE, body)


def _yuan(fen: int | None) -> float | None:
    return None if fen is None else round(fen / 100, 2)


async def price_calendar(ctx: Any, body: dict[str, Any]) -> list[dict[str, Any]] | str:
    """The calendar rows Meituan pulls (module doc), or why the request is unusable."""
    product_id = str(body.get("partnerDealId") or "")
    try:
        first = date.fromisoformat(str(body.get("startTime") or ""))
        last = date.fromisoformat(str(body.get("endTime") or body.get("startTime") or ""))
    except ValueError:
        return "startTime/endTime must be yyyy-MM-dd"
    if not product_id:
        return "partnerDealId missing"
    if last < first or (last - first).days >= MAX_DAYS:
        return f"the window must be 1..{MAX_DAYS} days, start before end"
    rows: list[dict[str, Any]] = []
    day = first
    while day <= last:
        avail = await ctx.orders.availability(product_id, day, CHANNEL)
        for s in avail.get("slots", ()):
            price = _yuan(s.get("price"))
            code = str(s.get("code", ""))
            rows.append(
                {
                    "partnerPrimaryKey": f"{product_id}:{day.isoformat()}:{code}",
                    "priceDate": day.isoformat(),
                    "skuInfo": {"startTime": s.get("start"), "endTime": s.get("end")},
                    "marketPrice": price,
                    "mtPrice": price,
                    "settlementPrice": price,
                    "stock": int(s.get("available", 0)),
                }
            )
        day += timedelta(days=1)
    return rows


async def answer_calendar(services: Any, call: Inbound) -> dict[str, Any]:
    """The ``price/calendar`` operation's answer in Meituan's envelope."""
    rows = await price_calendar(services.ctx, call.body)
    if isinstance(rows, str):
        return services.inbound.answer("INVALID_REQUEST", call.operation, detail=rows)  # type: ignore[no-any-return]
    body = {"partnerDealId": call.body.get("partnerDealId"), "levelPriceCalendars": rows}
    return services.inbound.answer("OK", call.operation, body=body)  # type: ignore[no-any-return]
