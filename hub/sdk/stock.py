"""What an OTA plugin implements to push stock: a `StockPusher`, registered through the
``register_stock_pushers`` hook (`hub.hookspecs`) into a `StockPusherRegistry`.

The hub decides WHEN (coalescing, ordering, rate windows, retries through the outbox);
the pusher only says HOW its partner is told one product's current stock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable

from hub.sdk.registries import Registry

HEADROOM = 0.9
"""Share of a partner's documented calls a minute the pusher uses: the partner counts
arrivals, and calls queued a minute apart can arrive closer (retries, a busy loop)."""

@dataclass(frozen=True, slots=True)
class StockLine:
    """What one order from the pusher's channel can get of a product, now, on one day
    in one slot (``slot`` ``""`` = the whole day). Read from live stock at delivery, so
    a channel with an allotment is told its allotment's number."""

    day: date
    slot: str
    start: str
    end: str
    quantity: int


@runtime_checkable
class StockPusher(Protocol):
    """Tells one OTA channel a product's stock, in that OTA's protocol.

    ``channel``
        the channel (and registry) name, e.g. ``"ctrip"``.
    ``window_seconds``
        the partner's per-resource limit: after a push of a product, the next one waits
        this long (changes in between are merged into it). 0 = none.
    ``batch_max``
        at most this many (day, slot) lines in one push.
    ``calls_per_minute``
        the partner's overall call budget for stock pushes (None: none documented).
        The hub queues no push beyond it (the product stays dirty, its changes merge),
        so a busy partner never makes a push wait out its attempt and back off.
    ``ready()``
        False while the partner's push is not configured (no URL or secrets): nothing is
        queued for it then.
    ``push(product_id, lines)``
        send the lines (every slot of each changed day, in day/slot order); raise
        `hub.DeliveryError` when the partner did not take them (the outbox retries
        with fresh numbers).
    """

    channel: str
    window_seconds: float
    batch_max: int
    calls_per_minute: int | None

    def ready(self) -> bool: ...

    async def push(self, product_id: str, lines: Sequence[StockLine]) -> None: ...


class StockPusherRegistry(Registry[StockPusher]):
    kind = "stock pusher"
