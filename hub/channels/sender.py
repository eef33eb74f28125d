"""What every sender of a partner's callbacks shares, whatever shape its calls have.

`hub.channels.outbound.SpecOutbound` (one JSON document per call) and
`plugins.channel_fliggy.top.TopOutbound` (TOP gateway form posts) differ in how they build and judge
a call, not in where its settings come from or in what a failed exchange means to the
outbox — that part lives here once, and a plugin with its own API client (Douyin's
OpenAPI) uses `exchange` and `check_status` for the same verdicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from hub.channels.spec import ChannelSpec
from hub.channels.spec_outbound import Callback
from hub.contracts import DeliveryError


class OutboundConfigError(ValueError):
    """The spec or the settings cannot make outbound calls (raised at construction)."""


@dataclass(frozen=True, slots=True)
class OutboundReply:
    """The partner's answer to a call it accepted: its code, message and decoded body."""

    status: int
    code: str
    message: str
    body: Any
    raw: bytes


async def exchange(
    http: aiohttp.ClientSession,
    url: str,
    *,
    what: str,
    seconds: float,
    method: str = "POST",
    **request: Any,
) -> tuple[int, Mapping[str, str], bytes]:
    """One HTTP exchange with a partner under a total timeout of ``seconds``: its status,
    headers and body. No answer in time and a network error are retryable
    `DeliveryError`s naming ``what`` (the call), so every sender's transport failures
    reach the outbox alike; judging the answer is the caller's."""
    timeout = aiohttp.ClientTimeout(total=seconds)
    try:
        async with http.request(method, url, timeout=timeout, **request) as resp:
            return resp.status, resp.headers, await resp.read()
    except TimeoutError as exc:
        raise DeliveryError(f"{what}: no answer within {seconds:g} s") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise DeliveryError(f"{what}: {type(exc).__name__}") from exc


def check_status(what: str, status: int, who: str = "partner") -> None:
    """HTTP 5xx and 429 are "try later"; any other status but 200 is a refusal an
    operator must look at (dead letter). Partners answer their own codes inside a 200."""
    if status >= 500 or status == 429:
        raise DeliveryError(f"{what}: {who} answered HTTP {status}")
    if status != 200:
        raise DeliveryError(f"{what}: {who} refused with HTTP {status}", retryable=False)


class CallbackSender:
    """What every sender of one partner's callbacks shares, whatever the call's shape:
    the channel settings its secrets and URLs are read from, the spec's callbacks, and
    the POST of one call under that callback's timeout."""

    def __init__(
        self,
        spec: ChannelSpec,
        settings: Mapping[str, Any],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.spec = spec
        self.settings = dict(settings)
        self.clock = clock

    def _secret(self, name: str | None) -> str:
        value = self.settings.get(name) if name else None
        if not isinstance(value, str) or not value:
            raise OutboundConfigError(f"{self.spec.channel.name}: setting {name} is required")
        return value

    def callback(self, kind: str) -> Callback:
        cb = self.spec.callbacks.get(kind)
        if cb is None:
            raise DeliveryError(f"{self.spec.channel.name}: no callback {kind!r}", retryable=False)
        return cb

    def url(self, kind: str) -> str:
        """The callback's URL: its own ``url_setting``, else ``[outbound].url_setting``,
        plus its ``path``. Missing is a deployment error: the call is dead-lettered with
        that message and can be replayed once the setting exists."""
        cb = self.callback(kind)
        out = self.spec.outbound
        name = cb.url_setting or (out.url_setting if out is not None else None)
        base = self.settings.get(name) if name else None
        if not isinstance(base, str) or not base:
            raise DeliveryError(
                f"{self.spec.channel.name}: setting {name or '<url_setting>'} is not configured",
                retryable=False,
            )
        return base.rstrip("/") + cb.path if cb.path else base

    async def post(
        self,
        http: aiohttp.ClientSession,
        kind: str,
        url: str,
        raw: bytes,
        headers: Mapping[str, str],
    ) -> tuple[int, Mapping[str, str], bytes]:
        """POST one call under its callback's ``timeout_seconds`` (see `exchange`)."""
        seconds = self.callback(kind).timeout_seconds
        return await exchange(http, url, what=kind, seconds=seconds, data=raw, headers=headers)
