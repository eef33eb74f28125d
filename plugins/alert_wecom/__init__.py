"""WeCom (企业微信) group robot as an alert sink: ``{"sink": "wecom", "url":
"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…", "msgtype": "markdown"|"text",
"mentioned_list": [...], "mentioned_mobile_list": [...]}``. The key in the URL is the only
credential, so the whole URL is a secret (masked in listings)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from hub.sdk import AlertSinkRegistry, DeliveryError, hookimpl
from hub.sdk.alerts import AlertMessage, SinkContext, post_json, required

__version__ = "0.1.0"
TEXT_MAX, MARKDOWN_MAX = 2048, 4096  # bytes, WeCom's limits
RATE_LIMITED = {45009}  # "api freq out of limit": retry later


def _clip(text: str, limit: int) -> str:
    raw = text.encode()
    return text if len(raw) <= limit else raw[: limit - 3].decode(errors="ignore") + "…"


class WeComSink:
    name = "wecom"
    secret_fields: tuple[str, ...] = ("url",)

    def check(self, config: Mapping[str, Any]) -> None:
        required(config, "url")
        if config.get("msgtype", "markdown") not in ("markdown", "text"):
            raise ValueError("msgtype is markdown or text")

    def body(self, message: AlertMessage, config: Mapping[str, Any]) -> dict[str, Any]:
        if config.get("msgtype", "markdown") == "text":
            text: dict[str, Any] = {"content": _clip(message.text(), TEXT_MAX)}
            for key in ("mentioned_list", "mentioned_mobile_list"):
                if config.get(key):
                    text[key] = list(config[key])
            return {"msgtype": "text", "text": text}
        return {"msgtype": "markdown", "markdown": {"content": _clip(message.markdown(), 4096)}}

    async def send(
        self, message: AlertMessage, config: Mapping[str, Any], ctx: SinkContext
    ) -> None:
        body = orjson.dumps(self.body(message, config))
        _, answer = await post_json(ctx, str(config["url"]), body)
        code = answer.get("errcode")
        if code != 0:
            retry = code in RATE_LIMITED
            raise DeliveryError(f"wecom errcode {code}: {answer.get('errmsg')}", retryable=retry)


@hookimpl
def register_alert_sinks(registry: AlertSinkRegistry) -> None:
    registry.add(WeComSink.name, WeComSink(), default=True)
