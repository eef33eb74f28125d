"""A generic JSON webhook as an alert sink, for whatever else a venue runs:
``{"sink": "webhook", "url": "https://…", "secret": "…"}``.

Header ``X-Tickethub-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
f"{t}.{body}")>`` lets the receiver verify the body and refuse replays (old ``t``);
``X-Tickethub-Delivery`` is the same for every retry of one message, so a receiver can
drop a duplicate the outbox's at-least-once delivery may produce after a crash."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import orjson

from hub.sdk import AlertSinkRegistry, DeliveryError, hookimpl
from hub.sdk.alerts import AlertMessage, SinkContext, post_json, required

__version__ = "0.1.0"


def signature(secret: str, t: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


class WebhookSink:
    name = "webhook"
    secret_fields: tuple[str, ...] = ("url", "secret")

    def check(self, config: Mapping[str, Any]) -> None:
        required(config, "url", "secret")

    async def send(
        self, message: AlertMessage, config: Mapping[str, Any], ctx: SinkContext
    ) -> None:
        body = orjson.dumps({"title": message.title, "text": message.text(), **message.payload()})
        t = int(ctx.clock.now().timestamp())
        step = f"{message.transition}:{message.reminder}"
        headers = {
            "X-Tickethub-Signature": signature(str(config["secret"]), t, body),
            "X-Tickethub-Delivery": f"alert-{message.alert_id}-{step}",
        }
        status, _ = await post_json(ctx, str(config["url"]), body, headers=headers)
        if not 200 <= status < 300:
            raise DeliveryError(f"webhook answered HTTP {status}", retryable=status == 408)


@hookimpl
def register_alert_sinks(registry: AlertSinkRegistry) -> None:
    registry.add(WebhookSink.name, WebhookSink(), default=True)
