"""Douyin (抖音来客) scenic SPI and fulfilment OpenAPI as a channel plugin, driven by
``channel_specs/douyin.toml``.

Found through the ``tickethub`` entry point. Inbound SPIs are verified and answered by
the hub's spec-driven adapter (`plugins.channel_douyin.channel`); the only callback is
the certificate verify on redemption, returned by the ``ticket_redeemed`` hook and
queued by the hub in the redemption's own transaction (`certificates`).
"""

from __future__ import annotations

from hub.sdk import ChannelRegistry, Order, PartnerCall, Redemption, Ticket, hookimpl
from plugins.channel_douyin import certificates
from plugins.channel_douyin.channel import DouyinChannel

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
