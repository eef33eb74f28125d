"""Stock push: every committed change of sellable stock reaches each OTA listing the
product, coalesced, ordered, durable and within the partner's limits. See `service`."""

from hub.sdk.stock import StockLine, StockPusher, StockPusherRegistry

__all__ = ["StockLine", "StockPusher", "StockPusherRegistry"]
