"""Destinations: a sink plus its configuration, reachable by the outbox.

Destinations come from ``TICKETHUB_ALERT_DESTINATIONS`` (JSON: name → ``{"sink": …,
…sink options}``), checked at start-up so a typo is a configuration error, not a dead
letter at the worst moment. Each becomes an outbox partner ``alert:<name>`` with its own
circuit breaker and the retry policy below.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from hub.alerts.measures import ALERT_PARTNER_PREFIX
from hub.clock import Clock
from hub.config import ConfigError
from hub.contracts import ChannelAdapter, ChannelContext, PartnerCall
from hub.outbox.policy import RetryPolicy
from hub.sdk.alerts import AlertMessage, AlertSink, SinkContext, mask_config
from hub.sdk.registries import AlertSinkRegistry

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,23}$")  # "alert:" + name fits outbox.partner(32)

ALERT_POLICY = RetryPolicy(
    timeout_seconds=10,
    initial_seconds=5,
    max_seconds=120,
    jitter_seconds=1,
    deadline_seconds=6 * 3600,
)
"""Robots limit to ~20 messages a minute: back off from 5 s up to 2 min; after six
hours an alert message is history, not news (it is dead-lettered for a person)."""


class Destination:
    """One configured destination, in the shape the outbox worker delivers through."""

    def __init__(
        self,
        name: str,
        sink: AlertSink,
        config: Mapping[str, Any],
        http: aiohttp.ClientSession,
        clock: Clock,
    ) -> None:
        self.name = f"{ALERT_PARTNER_PREFIX}{name}"
        self.destination = name
        self.sink = sink
        self.config = dict(config)
        self.retry_policy = ALERT_POLICY
        self._ctx = SinkContext(http, clock)

    def setup(self, ctx: ChannelContext) -> None:
        """Destinations mount no routes."""

    async def deliver(self, call: PartnerCall) -> None:
        await self.sink.send(AlertMessage.from_payload(call.payload), self.config, self._ctx)

    def shown(self) -> dict[str, Any]:
        """For listings and logs: secrets masked."""
        return {
            "name": self.destination,
            **mask_config(self.config, ("url", *self.sink.secret_fields)),
        }


def check_destinations(
    configured: Mapping[str, Mapping[str, Any]], sinks: AlertSinkRegistry
) -> None:
    """Every destination names a known sink and satisfies it (one clear error if not)."""
    for name, config in configured.items():
        if not NAME.match(name):
            raise ConfigError(
                f"TICKETHUB_ALERT_DESTINATIONS: destination name {name!r} must match {NAME.pattern}"
            )
        sink = sinks.find(str(config.get("sink", "")))
        if sink is None:
            raise ConfigError(
                f"TICKETHUB_ALERT_DESTINATIONS: destination {name!r} names sink "
                f"{config.get('sink')!r}; known: {', '.join(sinks.names()) or 'none'}"
            )
        try:
            sink.check(config)
        except ValueError as exc:
            why = f"TICKETHUB_ALERT_DESTINATIONS: destination {name!r}: {exc}"
            raise ConfigError(why) from None


def build_destinations(
    configured: Mapping[str, Mapping[str, Any]],
    sinks: AlertSinkRegistry,
    http: aiohttp.ClientSession,
    clock: Clock,
) -> dict[str, Destination]:
    check_destinations(configured, sinks)
    return {
        name: Destination(name, sinks.get(str(cfg["sink"])), cfg, http, clock)
        for name, cfg in configured.items()
    }


def deliverer(
    destinations: Mapping[str, Destination], channels: Callable[[str], ChannelAdapter | None]
) -> Callable[[str], ChannelAdapter | None]:
    """The outbox's partner lookup: ``alert:<name>`` is a destination, anything else a
    channel. An alert call whose destination was removed from the configuration finds
    nothing and is dead-lettered with that reason."""

    def find(partner: str) -> ChannelAdapter | None:
        if partner.startswith(ALERT_PARTNER_PREFIX):
            return destinations.get(partner.removeprefix(ALERT_PARTNER_PREFIX))
        return channels(partner)

    return find
