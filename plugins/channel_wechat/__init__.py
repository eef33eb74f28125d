"""The WeChat mini-program channel: login, orders, WeChat Pay v3 (or v2), refunds,
notifications and subscribe messages.

Found through the ``tickethub`` entry point (``channel_wechat``), like any third-party
plugin. The hooks below only translate events of WeChat orders into outbox calls; the
adapter (`channel.WeChatChannel`) delivers them.
"""

from __future__ import annotations

from hub.sdk import ChannelRegistry, Order, PartnerCall, Ticket, hookimpl
from plugins.channel_wechat import events
from plugins.channel_wechat.channel import WeChatChannel

__version__ = "0.1.0"


@hookimpl
def register_channels(registry: ChannelRegistry) -> None:
    # One adapter per application (its routes and services are that application's).
    registry.add(WeChatChannel.name, WeChatChannel(), default=True)


def _ours(order: Order) -> bool:
    return order.channel == events.CHANNEL


@hookimpl
def order_confirmed(order: Order) -> list[PartnerCall] | None:
    return events.on_confirmed(order) if _ours(order) else None


@hookimpl
def order_cancelled(order: Order) -> list[PartnerCall] | None:
    return events.on_cancelled(order) if _ours(order) else None


@hookimpl
def order_expired(order: Order) -> list[PartnerCall] | None:
    return [events.close(order)] if _ours(order) else None


@hookimpl
def order_refunded(order: Order, tickets: list[Ticket]) -> list[PartnerCall] | None:
    return events.on_refunded(order, tickets) if _ours(order) else None


@hookimpl
def ticket_parts_refunded(
    order: Order, ticket: Ticket, parts: list[str], amount: int
) -> list[PartnerCall] | None:
    # a combo's unused parts: their refund amount back through WeChat Pay
    if not _ours(order) or amount <= 0:
        return None
    reason = "part-" + "+".join(sorted(parts))
    return [events.refund(order, reason, amount=amount, tickets=[ticket])]
