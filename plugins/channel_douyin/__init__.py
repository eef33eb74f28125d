"""Douyin (抖音来客) scenic SPI and fulfilment OpenAPI as a channel plugin, driven by
its spec ``douyin.toml`` (in this folder).

Found through the ``tickethub`` entry point. Inbound SPIs are verified and answered by
the hub's spec-driven adapter (`plugins.channel_douyin.channel`); the only callback is
the certificate verify on redemption, returned by the ``ticket_redeemed`` hook and
queued by the hub in the redemption's own transaction (`certificates`).

Dependencies: none beyond the core (the SPI signatures are ``hashlib``; the OpenAPI
calls use the hub's shared aiohttp session), so there is nothing to make an extra.
"""

from __future__ import annotations

from hub.sdk import ChannelRegistry, Order, PartnerCall, Redemption, Ticket, hookimpl
from plugins.channel_douyin import certificates, part_refunds, protocol
from plugins.channel_douyin.channel import DouyinChannel

# Its protocol and spec, registered by name: hookimpls pluggy finds on this module.
register_channel_specs = protocol.register_channel_specs
register_signature_schemes = protocol.register_signature_schemes

__version__ = "0.1.0"


@hookimpl
def register_channels(registry: ChannelRegistry) -> None:
    # default=True: a deployment (or a test) may register its own "douyin" over it
    registry.add(DouyinChannel.name, DouyinChannel(), default=True)


@hookimpl
def ticket_redeemed(
    order: Order, ticket: Ticket, redemption: Redemption
) -> list[PartnerCall] | None:
    call = certificates.verify_call(order, ticket, redemption)
    return [call] if call is not None else None


@hookimpl
def ticket_parts_refunded(
    order: Order, ticket: Ticket, parts: list[str], amount: int
) -> list[PartnerCall] | None:
    # a combo's unused parts refunded by the venue (spec: [callbacks.part_refund])
    call = part_refunds.part_refund_call(order, ticket, parts, amount)
    return [call] if call is not None else None
