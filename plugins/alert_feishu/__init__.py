"""Feishu / Lark custom bot as an alert sink, with signature check on:
``{"sink": "feishu", "url": "https://open.feishu.cn/open-apis/bot/v2/hook/…",
"secret": "…"}``.

``sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))``, timestamp in
seconds, both sent in the body beside the text message."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import orjson

from hub.sdk import AlertSinkRegistry, DeliveryError, hookimpl
from hub.sdk.alerts import AlertMessage, SinkContext, post_json, required

__version__ = "0.1.0"
RATE_LIMITED = {9499, 11232}  # "too many request", "frequency limited"


def sign(timestamp_s: int, secret: str) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuSink:
    name = "feishu"
    secret_fields: tuple[str, ...] = ("url", "secret")

    def check(self, config: Mapping[str, Any]) -> None:
        required(config, "url", "secret")

    def body(self, message: AlertMessage, config: Mapping[str, Any], ts: int) -> dict[str, Any]:
        return {
            "timestamp": str(ts),
            "sign": sign(ts, str(config["secret"])),
            "msg_type": "text",
            "content": {"text": message.text()},
        }

    async def send(
        self, message: AlertMessage, config: Mapping[str, Any], ctx: SinkContext
    ) -> None:
        ts = int(ctx.clock.now().timestamp())
        body = orjson.dumps(self.body(message, config, ts))
        _, answer = await post_json(ctx, str(config["url"]), body)
        code = answer.get("code", answer.get("StatusCode"))
        if code != 0:
            retry = code in RATE_LIMITED
            raise DeliveryError(f"feishu code {code}: {answer.get('msg')}", retryable=retry)


@hookimpl
def register_alert_sinks(registry: AlertSinkRegistry) -> None:
    registry.add(FeishuSink.name, FeishuSink(), default=True)
