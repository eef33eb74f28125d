"""How stock pushes travel: outbox calls addressed to ``stock:<channel>``, delivered by
`StockLaneAdapter` (the stock pusher's ``deliver``) rather than by the channel's own
adapter, so their breaker and retry schedule do not mix with the channel's order
callbacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hub.contracts import ChannelAdapter, ChannelContext, DeliveryError, PartnerCall
from hub.outbox.policy import RetryPolicy

if TYPE_CHECKING:
    from hub.stockpush.service import StockPushService

PARTNER_PREFIX = "stock:"
KIND = "StockPush"
POLICY = RetryPolicy(
    timeout_seconds=10, initial_seconds=1, max_seconds=60, jitter_seconds=0.5,
    deadline_seconds=3600,
)  # fmt: skip
"""Retries of one push: quick at first (the numbers go stale), dead after an hour — then
the lane is freed and a fresh push is queued (`hub.stockpush.service`)."""


class StockLaneAdapter:
    """The outbox's adapter for ``stock:<channel>`` calls (see the module doc)."""

    name = "stock"
    retry_policy = POLICY

    def __init__(self, service: Callable[[], StockPushService | None]) -> None:
        self._service = service

    def setup(self, ctx: ChannelContext) -> None:  # pragma: no cover - never mounted
        return None

    async def deliver(self, call: PartnerCall) -> None:
        service = self._service()
        if service is None:
            raise DeliveryError("stock push is not running in this process")
        await service.deliver(call)


def deliverer(
    service: Callable[[], StockPushService | None],
    others: Callable[[str], ChannelAdapter | None],
) -> Callable[[str], ChannelAdapter | None]:
    """The outbox's partner lookup with ``stock:<channel>`` routed to the pusher."""
    lane = StockLaneAdapter(service)

    def find(partner: str) -> ChannelAdapter | None:
        if partner.startswith(PARTNER_PREFIX):
            return lane  # type: ignore[return-value]
        return others(partner)

    return find
