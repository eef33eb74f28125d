"""Ctrip (携程) supplier order API as a channel plugin, driven by its spec ``ctrip.toml``
(in this folder, with its letters cipher in `protocol`).

Found through the ``tickethub`` entry point. The envelope, crypto, signature and result
codes come from the spec through `hub.channels.adapter` (inbound) and
`hub.channels.outbound` (callbacks); this plugin holds what the spec cannot say. Its event
hooks only return the callbacks an event causes (see `callbacks`): the hub queues them
in the transaction of the change.

Dependencies: no vendor library, so no pip extra. The cipher uses ``cryptography``, which
stays a core dependency because the hub itself needs it (credential signing in
`hub.domain.credentials`, sealed ID numbers in `hub.storage.sealed`); an extra would
make nothing lighter.
"""

from __future__ import annotations

from hub.sdk import ChannelRegistry, Order, PartnerCall, Redemption, Ticket, hookimpl
from hub.sdk.stock import StockPusherRegistry
from plugins.channel_ctrip import callbacks, protocol
from plugins.channel_ctrip.adapter import CtripChannel
from plugins.channel_ctrip.stock import CtripStockPusher

# Its protocol and spec, registered by name: hookimpls pluggy finds on this module.
register_channel_specs = protocol.register_channel_specs
register_codecs = protocol.register_codecs

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
def ticket_parts_refunded(
    order: Order, ticket: Ticket, parts: list[str], amount: int
) -> list[PartnerCall] | None:
    # a combo's unused parts refunded by the venue (spec: [callbacks.PartRefundNotice])
    return _one(callbacks.part_refund_call(order, ticket, parts, amount))


@hookimpl
def ticket_redeemed(
    order: Order, ticket: Ticket, redemption: Redemption
) -> list[PartnerCall] | None:
    return _one(callbacks.consumed_call(order, ticket, redemption))


@hookimpl
def register_stock_pushers(registry: StockPusherRegistry) -> None:
    # Every change of stock (sales in any channel, holds, capacity) → DateInventoryModify
    registry.add(CtripStockPusher.channel, CtripStockPusher(), default=True)
