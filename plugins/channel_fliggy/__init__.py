"""Fliggy (飞猪) as a channel plugin, driven by its spec ``fliggy.toml`` (in this folder).

Found through the ``tickethub`` entry point. Inbound comes from the spec through the
hub's generic channel; outbound are the TOP gateway calls ``verify`` (on redemption) and
``refund`` (after refunds), see `plugins.channel_fliggy.callbacks`. The event hooks only
return the calls an event causes; the hub queues them in the transaction of the change.

Dependencies: none beyond the core (TOP signatures are ``hashlib``/``hmac``; calls go
through the hub's shared aiohttp session), so there is nothing to make an extra.
"""

from __future__ import annotations

from hub.sdk import ChannelRegistry, Order, PartnerCall, Redemption, Ticket, hookimpl
from hub.sdk.stock import StockPusherRegistry
from plugins.channel_fliggy import callbacks, protocol
from plugins.channel_fliggy.channel import FliggyChannel
from plugins.channel_fliggy.stock import FliggyStockPusher

# Its protocol and spec, registered by name: hookimpls pluggy finds on this module.
register_channel_specs = protocol.register_channel_specs
register_signature_schemes = protocol.register_signature_schemes

__version__ = "0.1.0"


@hookimpl
def register_channels(registry: ChannelRegistry) -> None:
    # default=True: a deployment (or a test) may register its own "fliggy" over it
    registry.add(FliggyChannel.name, FliggyChannel(), default=True)


@hookimpl
def register_stock_pushers(registry: StockPusherRegistry) -> None:
    # every stock change → alitrip.ticket.skus.upload through TOP
    registry.add(FliggyStockPusher.channel, FliggyStockPusher(), default=True)


@hookimpl
def order_refunded(order: Order, tickets: list[Ticket]) -> list[PartnerCall] | None:
    call = callbacks.refund_call(order, callbacks.REFUND_OK, callbacks.tickets_tag(tickets))
    return [call] if call is not None else None


@hookimpl
def ticket_parts_refunded(
    order: Order, ticket: Ticket, parts: list[str], amount: int
) -> list[PartnerCall] | None:
    # a combo's unused parts refunded by staff: the refund result notice, tagged by the
    # ticket and its parts so each part refund is told once
    tag = callbacks.tickets_tag([ticket]) + "-" + "+".join(sorted(parts))
    call = callbacks.refund_call(order, callbacks.REFUND_OK, tag)
    return [call] if call is not None else None


@hookimpl
def ticket_redeemed(
    order: Order, ticket: Ticket, redemption: Redemption
) -> list[PartnerCall] | None:
    call = callbacks.verify_call(order, ticket, redemption)
    return [call] if call is not None else None
