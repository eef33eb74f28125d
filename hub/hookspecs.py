"""Every hook a tickethub plugin can implement. The docstrings ARE the plugin documentation:
`tests/test_hookspecs.py` fails when one is missing.

Two kinds of hooks:

* ``register_*`` hooks run once when an application is built. They add objects to typed
  registries; the async work lives in those objects (see `hub.contracts`).
* event hooks (``order_*``, ``ticket_*``) run inside the transaction that changed the
  order. They must be quick and must not do I/O; instead they RETURN the partner calls the
  event causes, and the hub writes them to the outbox in that same transaction, so a
  callback is queued if and only if the change is committed.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer

    from hub.channels.schemes import (
        ChannelSpecRegistry,
        CodecRegistry,
        SignatureSchemeRegistry,
    )
    from hub.contracts import PartnerCall
    from hub.domain import Order, Redemption, Ticket
    from hub.domain.rules.registry import RuleRegistry
    from hub.sdk.registries import (
        AlertSinkRegistry,
        ChannelRegistry,
        DeviceDriverRegistry,
        PaymentProviderRegistry,
    )
    from hub.sdk.stock import StockPusherRegistry

PROJECT = "tickethub"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_channels(registry: ChannelRegistry) -> None:
    """Add sales-channel adapters with ``registry.add(name, adapter)``.

    :param registry: the application's channel registry.

    Implement this to bring a new sales channel (an OTA, a kiosk, a partner API). The
    adapter follows `hub.sdk.ChannelAdapter`: the hub calls its ``setup(ctx)`` once
    with the shared services, where it mounts its partner-facing routes, and its
    ``deliver(call)`` for each outbox call addressed to it.
    """


@hookspec
def register_codecs(registry: CodecRegistry) -> None:
    """Add body codecs a channel spec can name (``registry.add(name, codec)``).

    :param registry: the application's codec registry.

    Implement this when a partner encrypts or encodes its business body in a way no
    installed plugin does (Ctrip's ``aes128cbc_letters``). The codec follows
    `hub.channels.schemes.BodyCodec`; a spec then says ``body_encoding = "<name>"`` or
    ``[encryption] scheme = "<name>"``. Keep the codec in the partner's plugin, so
    removing the plugin removes its protocol.
    """


@hookspec
def register_signature_schemes(registry: SignatureSchemeRegistry) -> None:
    """Add signature schemes a channel spec can name (``registry.add(name, scheme)``).

    :param registry: the application's signature-scheme registry.

    Implement this when a partner signs its calls in a way no installed plugin does
    (Meituan's ``hmac_sha1_mws``, Douyin's ``douyin_spi_sha256``). The scheme follows
    `hub.channels.schemes.SignatureScheme` (and `HeaderSigner` when the hub's own calls
    to the partner carry the signature in headers); a spec then says
    ``[signing.inbound] scheme = "<name>"``.
    """


@hookspec
def register_channel_specs(registry: ChannelSpecRegistry) -> None:
    """Add channel spec files (``registry.add(channel_name, path_to_toml)``).

    :param registry: the application's channel-spec registry.

    Implement this in a channel plugin whose partner is described by a spec: ship the
    TOML file inside the plugin package (``importlib.resources.files(__package__) /
    "name.toml"``) so the plugin and its protocol travel together. Tools and tests find
    every partner's spec here (`hub.channels.load_all()`).
    """


@hookspec
def register_payment_providers(registry: PaymentProviderRegistry) -> None:
    """Add payment providers (``registry.add(name, provider)``).

    :param registry: the application's payment-provider registry.

    Implement this to let held orders be paid and refunded through a new provider; the
    provider follows `hub.sdk.PaymentProvider`.
    """


@hookspec
def register_rules(registry: RuleRegistry) -> None:
    """Add named rule functions that product rule documents can use as ``{"check": name}``.

    :param registry: the rule registry of the ONE rule engine; the hub uses it at sale time
        and the venue bridge at the gate.

    Implement this when a venue needs a rule the built-in checks do not express. A rule
    function is pure: it receives the rule's parameters and the sale or entry context and
    returns ``None`` (allow), a `hub.domain.Denial`, or ``Allow(claims=...)`` when the
    decision depends on other orders (e.g. a per-ID limit) and the storage must enforce
    the claims atomically in the order's transaction.
    """


@hookspec
def register_device_drivers(registry: DeviceDriverRegistry) -> None:
    """Add entrance-device drivers (``registry.add(vendor, driver_factory)``).

    :param registry: the device-driver registry of the venue bridge.

    Implement this to support a new family of turnstiles, access controllers or face
    terminals. The driver follows `hub.sdk.DeviceDriver`.
    """


@hookspec
def register_alert_sinks(registry: AlertSinkRegistry) -> None:
    """Add alert sinks (``registry.add(name, sink)``): ways to deliver an alert message.

    :param registry: the application's alert-sink registry.

    Implement this to send threshold alerts somewhere new (a chat robot, a pager, mail).
    The sink follows `hub.sdk.alerts.AlertSink`: ``check(config)`` validates a destination's
    settings at start-up and ``send(message, config, ctx)`` delivers one message. The
    hub calls ``send`` only from the outbox, so it is retried on failure and a message
    is queued once per alert transition; raise `hub.sdk.DeliveryError` when it did not land.
    Staff bind sinks to destinations in ``TICKETHUB_ALERT_DESTINATIONS``.
    """


@hookspec
def register_stock_pushers(registry: StockPusherRegistry) -> None:
    """Add stock pushers (``registry.add(channel, pusher)``): how an OTA is told what is
    left of a product it lists.

    :param registry: the application's stock-pusher registry.

    Implement this in an OTA plugin whose partner accepts stock pushes. The pusher
    follows `hub.stockpush.StockPusher`: it states the partner's per-resource window and
    batch size and sends one product's lines; the hub decides when (every committed
    stock change, coalesced per product × day × slot, one push of a product in flight at
    a time, retried through the outbox). A partner that only pulls needs no pusher: its
    pull endpoint reads live stock (``ctx.services().orders.availability``).
    """


@hookspec
def add_cli_commands(app: typer.Typer) -> None:
    """Add commands to the ``tickethub`` command line (``app.add_typer(sub, name=...)``).

    :param app: the root typer application.

    Implement this when a plugin's users need a command: e.g. ``tickethub agency
    statement``. Commands run in their own process; build what they need from
    `hub.settings.Settings` (the database URL) rather than from a running hub.
    """


@hookspec
def order_confirmed(order: Order) -> list[PartnerCall] | None:
    """An order was confirmed and its tickets issued.

    :param order: the confirmed order, with its tickets.
    :return: partner calls to queue (e.g. an OTA's issue notice), or None.

    Runs inside the confirming transaction: return calls, do not perform I/O.
    """


@hookspec
def order_cancelled(order: Order) -> list[PartnerCall] | None:
    """An order was cancelled (before or after confirmation) and its stock returned.

    :param order: the order in its new state.
    :return: partner calls to queue, or None.
    """


@hookspec
def order_expired(order: Order) -> list[PartnerCall] | None:
    """A hold ran out unpaid; its stock went back to the pool.

    :param order: the expired order.
    :return: partner calls to queue (e.g. a payment provider's close call), or None.
    """


@hookspec
def order_refunded(order: Order, tickets: list[Ticket]) -> list[PartnerCall] | None:
    """Tickets of an order were refunded (all or some) and put on the revocation list.

    :param order: the order after the refund.
    :param tickets: the tickets this refund revoked.
    :return: partner calls to queue (refund notices, payment refunds), or None.
    """


@hookspec
def ticket_parts_refunded(
    order: Order, ticket: Ticket, parts: list[str], amount: int
) -> list[PartnerCall] | None:
    """Unused parts of a combo ticket were refunded (`hub.domain.combo`); the ticket
    itself stays valid for its other parts, so this is not `order_refunded`.

    :param order: the order after the refund.
    :param ticket: the combo ticket, its ``parts`` marked refunded.
    :param parts: the attractions refunded now.
    :param amount: the money back, fen (the parts' ``refund_amount`` times the units).
    :return: partner calls to queue (a refund notice, a payment refund), or None.
    """


@hookspec
def ticket_redeemed(
    order: Order, ticket: Ticket, redemption: Redemption
) -> list[PartnerCall] | None:
    """A gate admitted a ticket (recorded once, whatever the retries).

    :param order: the ticket's order (its channel and partner order id say who to tell).
    :param ticket: the ticket, with its updated entry count.
    :param redemption: the gate decision.
    :return: partner calls to queue (e.g. Ctrip's cumulative OrderConsumedNotice), or None.

    Cumulative notices should compute their totals when they are delivered (read the
    order then), so a late or retried call always carries the latest count.
    """


@hookspec
def capacity_changed(venue_id: str, pool: str, days: list[date]) -> list[PartnerCall] | None:
    """Staff changed the capacity of a pool on some days (stock for sale moved).

    :param venue_id: the venue.
    :param pool: the inventory pool whose capacity changed.
    :param days: the travel days affected.
    :return: partner calls to queue (e.g. Ctrip's DateInventoryModify), or None.

    Runs inside the capacity transaction. Partners that mirror stock should compute the
    figures at delivery and batch by day (dedupe keys per pool and day), so a burst of
    changes becomes one call per day with the latest number.
    """
