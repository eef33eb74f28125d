"""Meituan (美团门票) third-party supplier API as a channel plugin, driven by
its spec ``meituan.toml`` (in this folder).

Found through the ``tickethub`` entry point. MWS auth, global encryption, the envelope
and result codes come from the spec through `hub.channels.adapter` (inbound) and
`hub.channels.outbound` (notices); this plugin holds what the spec cannot say. Its event
hooks only return the notices an event causes (see `callbacks`): the hub queues them in
the transaction of the change.

Dependencies: no vendor library, so no pip extra. Global encryption uses
``cryptography`` (a core dependency: the hub signs credentials with it) and MWS only the
standard library.
"""

from __future__ import annotations

from hub.sdk import ChannelRegistry, Order, PartnerCall, Redemption, Ticket, hookimpl
from hub.sdk.stock import StockPusherRegistry
from plugins.channel_meituan import callbacks, protocol
from plugins.channel_meituan.channel import MeituanChannel
from plugins.channel_meituan.stock import MeituanStockPusher

# Its protocol and spec, registered by name: hookimpls pluggy finds on this module.
register_channel_specs = protocol.register_channel_specs
register_codecs = protocol.register_codecs
register_signature_schemes = protocol.register_signature_schemes

__version__ = "0.1.0"


@hookimpl
def register_channels(registry: ChannelRegistry) -> None:
    # default=True: a deployment (or a test) may register its own "meituan" over it
    registry.add(MeituanChannel.name, MeituanChannel(), default=True)


@hookimpl
def register_stock_pushers(registry: StockPusherRegistry) -> None:
    # every stock change → the price-calendar change notice; Meituan then pulls
    registry.add(MeituanStockPusher.channel, MeituanStockPusher(), default=True)


def _one(call: PartnerCall | None) -> list[PartnerCall] | None:
    return [call] if call is not None else None


@hookimpl
def order_confirmed(order: Order) -> list[PartnerCall] | None:
    return _one(callbacks.voucher_call(order))


@hookimpl
def order_refunded(order: Order, tickets: list[Ticket]) -> list[PartnerCall] | None:
    return _one(callbacks.refund_call(order, tickets))


@hookimpl
def ticket_parts_refunded(
    order: Order, ticket: Ticket, parts: list[str], amount: int
) -> list[PartnerCall] | None:
    # a combo's unused parts refunded by the venue: Meituan's refund notice for them
    return _one(callbacks.part_refund_call(order, ticket, parts, amount))


@hookimpl
def ticket_redeemed(
    order: Order, ticket: Ticket, redemption: Redemption
) -> list[PartnerCall] | None:
    return _one(callbacks.consume_call(order, ticket, redemption))
