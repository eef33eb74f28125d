"""DingTalk (钉钉) custom robot as an alert sink, with the signed URL ("加签"):
``{"sink": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=…",
"secret": "SEC…", "msgtype": "markdown"|"text", "at_mobiles": [...]}``.

``sign = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))`` with
the timestamp in milliseconds from the hub's clock (DingTalk accepts one hour of skew)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus

import orjson

from hub.sdk import AlertSinkRegistry, DeliveryError, hookimpl
from hub.sdk.alerts import AlertMessage, SinkContext, post_json, required

__version__ = "0.1.0"
RATE_LIMITED = {130101}  # "send too fast, exceed 20 times per minute"


def sign(timestamp_ms: int, secret: str) -> str:
    """The ``sign`` query value (already URL-encoded)."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return quote_plus(base64.b64encode(digest))


class DingTalkSink:
    name = "dingtalk"
    secret_fields: tuple[str, ...] = ("url", "secret")

    def check(self, config: Mapping[str, Any]) -> None:
        required(config, "url", "secret")
        if config.get("msgtype", "markdown") not in ("markdown", "text"):
            raise ValueError("msgtype is markdown or text")

    def body(self, message: AlertMessage, config: Mapping[str, Any]) -> dict[str, Any]:
        at = {"atMobiles": list(config.get("at_mobiles", [])), "isAtAll": False}
        if config.get("msgtype", "markdown") == "text":
            return {"msgtype": "text", "text": {"content": message.text()}, "at": at}
        md = {"title": message.title, "text": message.markdown()}
        return {"msgtype": "markdown", "markdown": md, "at": at}

    def signed_url(self, config: Mapping[str, Any], timestamp_ms: int) -> str:
        url = str(config["url"])
        sep = "&" if "?" in url else "?"
        return (
            f"{url}{sep}timestamp={timestamp_ms}&sign={sign(timestamp_ms, str(config['secret']))}"
        )

    async def send(
        self, message: AlertMessage, config: Mapping[str, Any], ctx: SinkContext
    ) -> None:
        ts = int(ctx.clock.now().timestamp() * 1000)
        body = orjson.dumps(self.body(message, config))
        _, answer = await post_json(ctx, self.signed_url(config, ts), body)
        code = answer.get("errcode")
        if code != 0:
            retry = code in RATE_LIMITED
            raise DeliveryError(f"dingtalk errcode {code}: {answer.get('errmsg')}", retryable=retry)


@hookimpl
def register_alert_sinks(registry: AlertSinkRegistry) -> None:
    registry.add(DingTalkSink.name, DingTalkSink(), default=True)
