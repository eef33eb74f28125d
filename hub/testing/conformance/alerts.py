"""The alert-sink conformance kit: what every alert sink must do, as a pytest class::

    from hub.testing.conformance.alerts import AlertSinkSuite

    class TestConformance(AlertSinkSuite):
        rig = MyRobotRig()

A sink is called only by the outbox (``hub.alerts.sink``), so its promises are the
outbox's: ``check`` refuses a configuration that cannot work in words for staff; ``send``
delivers one message that carries the alert; a destination that refuses the message
(a wrong secret) is a `hub.DeliveryError` that no retry fixes (``retryable=False``), one
that is down (a 5xx) a retryable one, after which a retry delivers; and the secrets of a
destination never show in a listing (`hub.alerts.mask_config` of its ``secret_fields``).
The `AlertSinkRig` brings up the destination's side: a server on loopback that checks
what the real one checks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any, ClassVar

import aiohttp
import pytest

from hub.clock import SystemClock
from hub.sdk import AlertSinkRegistry, DeliveryError
from hub.sdk.alerts import AlertMessage, AlertSink, SinkContext, mask_config

ENTRY_POINT_GROUP = "tickethub"


class SinkDestination(ABC):
    """The destination's side for one check (a robot's webhook, a mail server)."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The destination as staff configure it (``TICKETHUB_ALERT_DESTINATIONS``),
        pointing at this server, with its secrets."""

    def wrong_config(self) -> dict[str, Any] | None:
        """A configuration ``check`` accepts but this destination refuses (a wrong
        secret or key); None for a destination without one (the check is skipped)."""
        return None

    @abstractmethod
    def received(self) -> list[Any]:
        """The messages this destination accepted, in order."""

    @abstractmethod
    def fail_next(self, status: int) -> None:
        """Answer the next request with this HTTP status (the destination in trouble)."""


class AlertSinkRig(ABC):
    """One sink for the kit: its registered name, its plugin's entry point, and a fresh
    destination for each check."""

    sink: ClassVar[str]
    plugin: ClassVar[str]

    @abstractmethod
    def destination(self) -> SinkDestination: ...


def message(transition: str = "opened") -> AlertMessage:
    """The message every check sends (ASCII rule name: any encoding still carries it)."""
    return AlertMessage(
        alert_id=4242,
        transition=transition,
        rule="conformance-kit-rule",
        kind="in_park",
        value=120,
        open_at=100,
        clear_below=80,
        detail="sent by the alert-sink conformance kit",
        at=datetime.now(UTC),
    )


class AlertSinkSuite:
    """Subclass with ``rig = <AlertSinkRig>``; pytest collects the ``test_*`` methods."""

    rig: ClassVar[AlertSinkRig]

    def _sink(self) -> AlertSink:
        registry = AlertSinkRegistry()
        found = [e for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == self.rig.plugin]
        assert found, f"no entry point {self.rig.plugin!r} in group {ENTRY_POINT_GROUP!r}"
        found[0].load().register_alert_sinks(registry=registry)
        return registry.get(self.rig.sink)

    @asynccontextmanager
    async def destination(self) -> AsyncIterator[tuple[SinkDestination, SinkContext]]:
        destination = self.rig.destination()
        await destination.start()
        try:
            async with aiohttp.ClientSession() as http:
                yield destination, SinkContext(http=http, clock=SystemClock())
        finally:
            await destination.close()

    def test_the_plugin_registers_the_sink_under_its_name(self) -> None:
        sink = self._sink()
        assert isinstance(sink, AlertSink), "the sink must follow hub.alerts.AlertSink"
        assert sink.name == self.rig.sink

    async def test_check_accepts_a_working_configuration_and_refuses_an_empty_one(
        self,
    ) -> None:
        sink = self._sink()
        async with self.destination() as (destination, _ctx):
            sink.check(destination.config())
        with pytest.raises(ValueError) as refused:
            sink.check({})
        assert str(refused.value).strip(), "a refusal must say what staff should fix"

    async def test_a_message_is_delivered_once_and_carries_the_alert(self) -> None:
        sink = self._sink()
        sent = message()
        async with self.destination() as (destination, ctx):
            await sink.send(sent, destination.config(), ctx)
            received = destination.received()
            assert len(received) == 1, received
            assert sent.rule in str(received[0]), received[0]

    async def test_a_refused_message_is_not_retried(self) -> None:
        sink = self._sink()
        async with self.destination() as (destination, ctx):
            wrong = destination.wrong_config()
            if wrong is None:
                pytest.skip(f"{self.rig.sink}: the destination has no secret to get wrong")
            sink.check(wrong)
            with pytest.raises(DeliveryError) as refused:
                await sink.send(message(), wrong, ctx)
            assert refused.value.retryable is False, "a refusal no retry fixes"
            assert destination.received() == []

    async def test_a_destination_that_is_down_is_retried_and_then_delivered(self) -> None:
        sink = self._sink()
        async with self.destination() as (destination, ctx):
            destination.fail_next(503)
            with pytest.raises(DeliveryError) as down:
                await sink.send(message(), destination.config(), ctx)
            assert down.value.retryable, "a destination that is down must be retried"
            await sink.send(message(), destination.config(), ctx)
            assert len(destination.received()) == 1

    async def test_secrets_never_show_in_a_listing(self) -> None:
        sink = self._sink()
        async with self.destination() as (destination, _ctx):
            config: Mapping[str, Any] = destination.config()
        shown = str(mask_config(config, sink.secret_fields))
        for field in sink.secret_fields:
            value = config.get(field)
            if value:
                assert str(value) not in shown, f"{field} shows in {shown}"
