"""Ctrip stock push: ``DateInventoryModify`` for one product (its ``supplierOptionId``),
one row per date with the absolute quantity left for Ctrip (all slots of the day summed:
no public sample shows a slot field, see ``wave2-facts.md`` 1a — *unconfirmed*).

The hub decides when (`hub.stockpush`); this module only states Ctrip's limits and
builds the call, sent through the channel's `SpecOutbound` like every Ctrip callback (its
``rate_per_minute`` keeps all inventory calls under 100 a minute). Ctrip's per-resource
limit — about one update a minute for the same resource — is ``window_seconds``:
``CTRIP_STOCK_WINDOW_SECONDS`` in the channel settings, 60 by default (sandboxes and
benchmarks shorten it; production keeps Ctrip's documented minute).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from hub.sdk import DeliveryError
from hub.sdk.stock import StockLine
from plugins.channel_ctrip import bodies
from plugins.channel_ctrip.callbacks import INVENTORY

if TYPE_CHECKING:
    from plugins.channel_ctrip.adapter import CtripChannel

DEFAULT_WINDOW_SECONDS = 60.0
MAX_ROWS = 90  # Ctrip: at most 90 days of data per call


def inventory_body(product_id: str, per_day: dict[date, int], seed: str) -> dict[str, Any]:
    """Ctrip's ``DateInventoryModify`` body: ``inventorys`` (sic) rows of absolute stock."""
    days = sorted(per_day)
    return {
        "sequenceId": bodies.sequence_id(days[0], seed),
        "supplierOptionId": product_id,
        "dateType": "DATE_REQUIRED",
        "inventorys": [{"date": d.isoformat(), "quantity": per_day[d]} for d in days],
    }


class CtripStockPusher:
    """`hub.stockpush.StockPusher` for Ctrip (registered by the plugin). It sends through
    the Ctrip channel that was set up last (`bind`, from the channel's ``setup``): the
    registered one, or a test's override — one hub per process, as for the hooks."""

    channel = "ctrip"
    batch_max = MAX_ROWS
    calls_per_minute = 99  # "under 100 calls a minute" (the spec's rate_per_minute too)
    adapter: CtripChannel | None = None

    @classmethod
    def bind(cls, adapter: CtripChannel) -> None:
        cls.adapter = adapter

    @property
    def window_seconds(self) -> float:
        ctx = self.adapter.ctx if self.adapter is not None else None
        raw = ctx.settings.get("CTRIP_STOCK_WINDOW_SECONDS") if ctx is not None else None
        try:
            return DEFAULT_WINDOW_SECONDS if raw in (None, "") else max(0.0, float(raw))
        except (TypeError, ValueError):
            return DEFAULT_WINDOW_SECONDS

    def ready(self) -> bool:
        return self.adapter is not None and self.adapter.deliveries is not None

    async def push(self, product_id: str, lines: Sequence[StockLine]) -> None:
        deliveries = self.adapter.deliveries if self.adapter is not None else None
        if deliveries is None:
            raise DeliveryError("ctrip callbacks are not configured", retryable=False)
        per_day: dict[date, int] = defaultdict(int)
        for line in lines:
            per_day[line.day] += line.quantity
        for chunk in _chunks(sorted(per_day), MAX_ROWS):
            body = inventory_body(
                product_id, {d: per_day[d] for d in chunk}, f"stock:{uuid.uuid4().hex}"
            )
            await deliveries.outbound.send(deliveries.ctx.http, INVENTORY, body)


def _chunks(days: list[date], size: int) -> list[list[date]]:
    return [days[i : i + size] for i in range(0, len(days), size)]
