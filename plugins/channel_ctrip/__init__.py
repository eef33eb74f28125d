"""Ctrip (携程) supplier order API as a channel plugin, driven by ``channel_specs/ctrip.toml``.

Found through the ``tickethub`` entry point. The envelope, crypto, signature and result
codes come from the spec through `hub.channels.adapter` (inbound) and
`hub.channels.outbound` (callbacks); this plugin holds what the spec cannot say. Its event
hooks only return the callbacks an event causes (see `callbacks`): the hub queues them
in the transaction of the change.
"""

from __future__ import annotations

from hub import Order, PartnerCall, Redemption, Ticket, hookimpl
from hub.registries import ChannelRegistry
from hub.stockpush import StockPusherRegistry
from plugins.channel_ctrip import callbacks
from plugins.channel_ctrip.adapter import CtripChannel
from plugins.channel_ctrip.stock import CtripStockPusher

__version__ = "0.2.0"


@hookimpl
def register_channels(registry: ChannelRegistry) -> None:
    # default=True: a deployment (or a test) may register its own "ctrip" over it
    registry.add(CtripChannel.name, CtripChannel(), default=True)


def _one(call: PartnerCall | None) -> list[PartnerCall] | None:
    return [call] if call is not None else None


@hookimpl
def order_confirmed(order: Order) -> list[PartnerCall] | None:
    return _one(callbacks.confirm_call(order, "confirmed"))


@hookimpl
def order_cancelled(order: Order) -> list[PartnerCall] | None:
    return _one(callbacks.confirm_call(order, "cancelled"))


@hookimpl
def order_refunded(order: Order, tickets: list[Ticket]) -> list[PartnerCall] | None:
    return _one(callbacks.confirm_call(order, "refunded", [t.id for t in tickets]))


@hookimpl
def ticket_redeemed(
    order: Order, ticket: Ticket, redemption: Redemption
) -> list[PartnerCall] | None:
    return _one(callbacks.consumed_call(order, ticket, redemption))


@hookimpl
def register_stock_pushers(registry: StockPusherRegistry) -> None:
    # Every change of stock (sales in any channel, holds, capacity) → DateInventoryModify
    registry.add(CtripStockPusher.channel, CtripStockPusher(), default=True)
