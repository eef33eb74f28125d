"""What an alert sink plugin implements, and what it is handed.

A sink turns one `AlertMessage` into one call to a destination (a robot webhook, a mail
server). The hub never calls a sink directly: every message is an outbox call, so the
sink's ``send`` runs inside an outbox attempt — retried on failure, never queued twice.
``send`` raises `hub.sdk.DeliveryError` when the destination refused the message
(``retryable=False`` for a refusal that no retry will fix, e.g. a wrong signature) and
lets network errors out (the outbox retries those).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import aiohttp
import orjson

from hub.clock import Clock
from hub.contracts import DeliveryError
from hub.logmask import mask_text

TRANSITIONS = ("opened", "reminder", "resolved")


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """One message about one alert's transition (the outbox payload, typed)."""

    alert_id: int
    transition: str  # opened | reminder | resolved
    rule: str
    kind: str
    value: float
    open_at: float
    clear_below: float
    detail: str
    at: datetime
    reminder: int = 0

    def payload(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "transition": self.transition,
            "rule": self.rule,
            "kind": self.kind,
            "value": self.value,
            "open_at": self.open_at,
            "clear_below": self.clear_below,
            "detail": self.detail,
            "at": self.at.isoformat(),
            "reminder": self.reminder,
        }

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> AlertMessage:
        return cls(
            alert_id=int(p["alert_id"]),
            transition=str(p["transition"]),
            rule=str(p["rule"]),
            kind=str(p["kind"]),
            value=float(p["value"]),
            open_at=float(p["open_at"]),
            clear_below=float(p["clear_below"]),
            detail=str(p.get("detail", "")),
            at=datetime.fromisoformat(str(p["at"])),
            reminder=int(p.get("reminder", 0)),
        )

    @property
    def title(self) -> str:
        word = {"opened": "告警", "reminder": "告警未确认", "resolved": "已恢复"}[self.transition]
        return f"[{word}] {self.rule}"

    def text(self) -> str:
        """Plain text, Chinese first; the same words in every sink."""
        lines = [self.title, f"{self.detail}".strip(), f"value {self.value:g}"]
        if self.transition == "resolved":
            lines.append(f"cleared below {self.clear_below:g} at {self.at.isoformat()}")
        else:
            lines.append(f"threshold {self.open_at:g}, opened {self.at.isoformat()}")
        if self.transition == "reminder":
            lines.append(f"reminder {self.reminder}, not yet acknowledged")
        lines.append(f"alert #{self.alert_id}")
        return "\n".join(line for line in lines if line)

    def markdown(self) -> str:
        colour = "info" if self.transition == "resolved" else "warning"
        head = f'**<font color="{colour}">{self.title}</font>**'
        return head + "\n" + "\n".join(f"> {line}" for line in self.text().splitlines()[1:])


@dataclass(frozen=True, slots=True)
class SinkContext:
    """What the hub lends a sink: its shared HTTP session and its clock (signatures carry
    timestamps, and tests move time by hand)."""

    http: aiohttp.ClientSession
    clock: Clock


@runtime_checkable
class AlertSink(Protocol):
    """One kind of destination (WeCom robot, mail…); a destination is a sink plus its
    configuration (``TICKETHUB_ALERT_DESTINATIONS``)."""

    name: str
    secret_fields: tuple[str, ...]
    """configuration keys never shown in logs or listings"""

    def check(self, config: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` naming what is missing or wrong in ``config``."""
        ...

    async def send(
        self, message: AlertMessage, config: Mapping[str, Any], ctx: SinkContext
    ) -> None:
        """Deliver one message; raise `DeliveryError` when it did not land."""
        ...


def mask_config(config: Mapping[str, Any], secret_fields: tuple[str, ...]) -> dict[str, Any]:
    """The configuration as it may be shown: secrets reduced to ``****``, phone numbers
    (``at_mobiles``, ``mentioned_mobile_list``) masked like in the logs."""

    def shown(key: str, value: Any) -> Any:
        if key in secret_fields and value:
            return "****"
        if isinstance(value, str):
            return mask_text(value)
        if isinstance(value, list):
            return [mask_text(v) if isinstance(v, str) else v for v in value]
        return value

    return {k: shown(k, v) for k, v in config.items()}


async def post_json(
    ctx: SinkContext,
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST a JSON body; 5xx and 429 are retryable `DeliveryError`s, any other status
    and the decoded JSON answer go back to the sink, which knows its error vocabulary."""
    all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    async with ctx.http.post(url, data=body, headers=all_headers) as resp:
        raw = await resp.read()
        if resp.status >= 500 or resp.status == 429:
            raise DeliveryError(f"HTTP {resp.status}", retryable=True)
        try:
            answer = orjson.loads(raw) if raw else {}
        except ValueError:
            answer = {}
        return resp.status, answer if isinstance(answer, dict) else {}


def required(config: Mapping[str, Any], *keys: str) -> None:
    missing = [k for k in keys if not config.get(k)]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")


__all__ = ["AlertMessage", "AlertSink", "SinkContext", "mask_config", "post_json", "required"]
