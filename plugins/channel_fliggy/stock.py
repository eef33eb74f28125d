"""Fliggy stock push: ``alitrip.ticket.skus.upload`` through the TOP gateway (ticket
v2.0 price/stock, wave2-facts 1d, official API page apiId=27947).

One call per product (``out_product_id``), ``ticket_type`` from the channel settings
(``FLIGGY_TICKET_TYPE``, default 成人票), one ``price_rules`` entry per slot (at most 50
a call): ``out_rule_id`` = product and slot, ``ticket_season`` = the slot code (our
inference: Fliggy's 场次 is where time slots go — *unconfirmed*), ``upload_type`` 2
(incremental per day: only the days sent change) and ``date_inventorys`` rows of the
absolute stock and the price in fen (the row's field names beyond ``date`` are not in the
stored copies — *unconfirmed*).

No per-resource limit is documented for this API; the spec's ``rate_per_minute`` (50, the
limit Fliggy documents for its package-modify API — *unconfirmed here*) is the budget the
hub's stock pusher keeps to (``calls_per_minute``).
``FLIGGY_STOCK_WINDOW_SECONDS`` sets a per-product window if Fliggy asks for one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hub.sdk import DeliveryError
from hub.sdk.channels import RateLimiter
from hub.sdk.stock import HEADROOM, StockLine

if TYPE_CHECKING:
    from plugins.channel_fliggy.channel import FliggyChannel

CHANNEL = "fliggy"
UPLOAD = "skus_upload"
MAX_RULES = 50
INCREMENTAL = 2
DEFAULT_PER_MINUTE = 50


def upload_params(
    product_id: str, lines: Sequence[StockLine], ticket_type: str, prices: dict[Any, Any]
) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    for line in lines:
        rule = rules.setdefault(
            line.slot,
            {
                "out_rule_id": f"{product_id}:{line.slot or 'ALL_DAY'}",
                "upload_type": INCREMENTAL,
                "ticket_season": line.slot or "ALL_DAY",
                "date_inventorys": [],
            },
        )
        rule["date_inventorys"].append(
            {
                "date": line.day.isoformat(),
                "stock": line.quantity,
                "price": prices.get((line.day, line.slot)),
            }
        )
    return {
        "out_product_id": product_id,
        "ticket_type": ticket_type,
        "price_rules": list(rules.values()),
    }


class FliggyStockPusher:
    """`hub.stockpush.StockPusher` for Fliggy (module doc)."""

    channel = CHANNEL
    batch_max = 500
    adapter: FliggyChannel | None = None
    calls_per_minute: int | None = DEFAULT_PER_MINUTE
    limiter: RateLimiter | None = None

    @classmethod
    def bind(cls, adapter: FliggyChannel) -> None:
        """The budget the hub queues to, and the same limit again at sending: a retried
        push is a second call, and calls queued a minute apart can land closer."""
        cls.adapter = adapter
        cb = adapter.spec.callbacks.get(UPLOAD)
        cls.calls_per_minute = cb.rate_per_minute if cb else DEFAULT_PER_MINUTE
        limit = int(cls.calls_per_minute * HEADROOM) if cls.calls_per_minute else 0
        cls.limiter = RateLimiter(limit) if limit > 0 else None

    def _setting(self, name: str) -> Any:
        ctx = self.adapter.ctx if self.adapter is not None else None
        return ctx.settings.get(name) if ctx is not None else None

    @property
    def window_seconds(self) -> float:
        raw = self._setting("FLIGGY_STOCK_WINDOW_SECONDS")
        try:
            return 0.0 if raw in (None, "") else max(0.0, float(raw))
        except (TypeError, ValueError):
            return 0.0

    def ready(self) -> bool:
        return self.adapter is not None and self.adapter.top is not None

    async def push(self, product_id: str, lines: Sequence[StockLine]) -> None:
        adapter = self.adapter
        if adapter is None or adapter.top is None or adapter.ctx is None:
            raise DeliveryError("fliggy: TOP callbacks not configured", retryable=False)
        ctx = adapter.ctx
        product = await ctx.orders.catalog.product(product_id)
        prices = {
            (ln.day, ln.slot): product.price_for(CHANNEL, ln.day) if product else None
            for ln in lines
        }
        ticket_type = str(self._setting("FLIGGY_TICKET_TYPE") or "成人票")
        slots = sorted({ln.slot for ln in lines})
        for start in range(0, len(slots), MAX_RULES):
            chunk = set(slots[start : start + MAX_RULES])
            params = upload_params(
                product_id, [ln for ln in lines if ln.slot in chunk], ticket_type, prices
            )
            session = self._setting("FLIGGY_SESSION")
            if session:
                params["session"] = session
            if self.limiter is not None:
                await self.limiter.acquire()
            await adapter.top.send(ctx.http, UPLOAD, params)
