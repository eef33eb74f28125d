"""The built-in webhook sink as the alert-sink conformance kit drives it, around this
folder's `WebhookReceiver` (which checks the signature as a receiver should)."""

from __future__ import annotations

from typing import Any

from hub.clock import SystemClock
from hub.testing.conformance.alerts import AlertSinkRig, SinkDestination
from sandbox.alerts.webhook import WebhookReceiver


class WebhookDestination(SinkDestination):
    def __init__(self) -> None:
        self.receiver = WebhookReceiver(SystemClock(), secret="kit-webhook-secret")

    async def start(self) -> None:
        await self.receiver.start()

    async def close(self) -> None:
        await self.receiver.stop()

    def config(self) -> dict[str, Any]:
        return {"sink": "webhook", "url": self.receiver.url, "secret": self.receiver.secret}

    def wrong_config(self) -> dict[str, Any] | None:
        return {**self.config(), "secret": "not-the-secret"}

    def received(self) -> list[Any]:
        return list(self.receiver.received)

    def fail_next(self, status: int) -> None:
        self.receiver.fail_next.append(status)


class WebhookRig(AlertSinkRig):
    sink = "webhook"
    plugin = "alert_webhook"

    def destination(self) -> SinkDestination:
        return WebhookDestination()
