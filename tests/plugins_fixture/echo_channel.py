"""``echo``: the smallest real tickethub channel plugin, written as a third party would.

It imports only the plugin SDK (`hub.sdk`), registers a channel adapter from its
``register_channels`` hook, and answers events by RETURNING partner calls (no I/O in a
hook). Its adapter records what the outbox asks it to deliver, so tests can see a call go
all the way through. A pip package would declare it as::

    [project.entry-points.tickethub]
    echo = "echo_channel"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.sdk import ChannelContext, Order, PartnerCall, Redemption, Ticket, hookimpl

if TYPE_CHECKING:
    from hub.sdk.registries import ChannelRegistry

CHANNEL = "echo"


class EchoChannel:
    """A `hub.sdk.ChannelAdapter` that delivers by remembering."""

    name = CHANNEL

    def __init__(self) -> None:
        self.context: ChannelContext | None = None
        self.delivered: list[PartnerCall] = []

    def setup(self, ctx: ChannelContext) -> None:
        self.context = ctx

    async def deliver(self, call: PartnerCall) -> None:
        self.delivered.append(call)


@hookimpl
def register_channels(registry: ChannelRegistry) -> None:
    # A fresh adapter per application: the hook runs once per `build_plugins()`.
    registry.add(CHANNEL, EchoChannel())


@hookimpl
def order_confirmed(order: Order) -> list[PartnerCall] | None:
    if order.channel != CHANNEL:
        return None  # a channel only tells its own partner about its own orders
    return [
        PartnerCall(
            partner=CHANNEL,
            kind="issued",
            dedupe_key=f"{CHANNEL}:issued:{order.id}",
            payload={"order_id": order.id, "tickets": [t.id for t in order.tickets]},
            order_id=order.id,
        )
    ]


@hookimpl
def ticket_redeemed(ticket: Ticket, redemption: Redemption) -> list[PartnerCall] | None:
    return [
        PartnerCall(
            partner=CHANNEL,
            kind="consumed",
            dedupe_key=f"{CHANNEL}:consumed:{redemption.id}",
            payload={"ticket_id": ticket.id, "used": ticket.entries_used},
            order_id=ticket.order_id,
        )
    ]
