"""Our client of Douyin's fulfilment OpenAPI: a ``client_token`` cached and refreshed
once at a time, the ``access-token`` header on every call, and answers judged the way
the outbox needs them (`hub.sdk.DeliveryError`, retryable or not).

Why not `hub.channels.outbound.SpecOutbound`? Douyin's calls are not one signed POST:
a token is fetched first (and refreshed when Douyin says it expired), the voucher check
is a GET with a query, and one logical callback is two requests (prepare, then verify).
What IS spec data stays in ``plugins/channel_douyin/douyin.toml``: the URL setting, each call's
path and timeout (``[callbacks.*]``), the "retry later" codes (``[outbound]``).

Single flight: concurrent deliveries that find no valid token wait on one lock and the
first one fetches; the others reuse its token (Douyin rate-limits ``client_token`` and a
new token may invalidate the previous one, so a stampede would hurt twice).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from hub.sdk import DeliveryError
from hub.sdk.channels import ChannelSpec, check_status, exchange
from hub.sdk.channels import load_json_doc as loads

log = logging.getLogger(__name__)

TOKEN_KIND = "client_token"
TOKEN_INVALID_CODES = frozenset({"2190002", "2190008"})
"""Douyin's "access_token invalid" / "access_token expired": drop the cached token."""
REFRESH_MARGIN = timedelta(minutes=5)
"""A token this close to its expiry is renewed before use, not sent and refused."""


class OpenApiNotConfigured(ValueError):
    """The settings lack the OpenAPI URL or the client credentials."""


class DouyinRefused(DeliveryError):
    """Douyin answered with a non-zero ``error_code`` (kept for the caller to inspect)."""

    def __init__(self, message: str, code: str, *, retryable: bool) -> None:
        super().__init__(message, retryable=retryable)
        self.code = code


@dataclass(frozen=True, slots=True)
class CachedToken:
    value: str
    expires_at: datetime


class OpenApi:
    """One Douyin application's OpenAPI session (per hub process)."""

    def __init__(
        self,
        spec: ChannelSpec,
        settings: Mapping[str, Any],
        *,
        clock: Callable[[], datetime],
        http: Callable[[], aiohttp.ClientSession],
    ) -> None:
        out = spec.outbound
        url_setting = out.url_setting if out is not None else None
        base = settings.get(url_setting) if url_setting else None
        key, secret = settings.get("DOUYIN_CLIENT_KEY"), settings.get("DOUYIN_CLIENT_SECRET")
        if not isinstance(base, str) or not base:
            raise OpenApiNotConfigured(f"douyin: setting {url_setting} is not configured")
        if not (isinstance(key, str) and key and isinstance(secret, str) and secret):
            raise OpenApiNotConfigured("douyin: DOUYIN_CLIENT_KEY/DOUYIN_CLIENT_SECRET missing")
        self.spec = spec
        self.base = base.rstrip("/")
        self.client_key = key
        self.client_secret = secret
        self.clock = clock
        self.http = http
        self.retryable = frozenset(out.retryable_codes if out is not None else ())
        self._token: CachedToken | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many tokens this process fetched (tests, metrics)

    def _url(self, kind: str) -> tuple[str, float]:
        cb = self.spec.callbacks.get(kind)
        if cb is None or not cb.path:
            raise DeliveryError(f"douyin: spec has no path for {kind}", retryable=False)
        return self.base + cb.path, cb.timeout_seconds

    # ------------------------------------------------------------------ token

    async def token(self) -> str:
        """A valid access token, fetched at most once at a time."""
        cached = self._token
        if cached is not None and self.clock() < cached.expires_at - REFRESH_MARGIN:
            return cached.value
        async with self._lock:
            cached = self._token  # another delivery may have fetched it while we waited
            if cached is not None and self.clock() < cached.expires_at - REFRESH_MARGIN:
                return cached.value
            body = {
                "client_key": self.client_key,
                "client_secret": self.client_secret,
                "grant_type": "client_credential",
            }
            data = await self._send(TOKEN_KIND, "POST", body=body, token=None)
            value, ttl = data.get("access_token"), data.get("expires_in")
            if not isinstance(value, str) or not value or not isinstance(ttl, int | float):
                raise DeliveryError("douyin: client_token answer lacks access_token/expires_in")
            self.fetches += 1
            self._token = CachedToken(value, self.clock() + timedelta(seconds=float(ttl)))
            return value

    def invalidate(self, value: str) -> None:
        """Forget `value` (Douyin refused it); a newer token fetched meanwhile stays."""
        if self._token is not None and self._token.value == value:
            self._token = None

    # ------------------------------------------------------------------ calls

    async def call(
        self,
        kind: str,
        method: str = "POST",
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One authenticated call; returns Douyin's ``data`` object on error_code 0."""
        token = await self.token()
        try:
            return await self._send(kind, method, body=body, query=query, token=token)
        except DouyinRefused as exc:
            if exc.code in TOKEN_INVALID_CODES:
                self.invalidate(token)
            raise

    async def _send(
        self,
        kind: str,
        method: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        token: str | None,
    ) -> dict[str, Any]:
        url, seconds = self._url(kind)
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["access-token"] = token
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        status, _, raw = await exchange(
            self.http(),
            url,
            what=f"douyin {kind}",
            seconds=seconds,
            method=method,
            data=data,
            params=dict(query or {}),
            headers=headers,
        )
        return self.judge(kind, status, raw)

    def judge(self, kind: str, status: int, raw: bytes) -> dict[str, Any]:
        """Douyin's answer → its ``data``, or the `DeliveryError` it amounts to."""
        check_status(f"douyin {kind}", status, "Douyin")
        try:
            doc = loads(raw)
            data = doc["data"]
            code = str(data.get("error_code", doc.get("extra", {}).get("error_code")))
        except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise DeliveryError(f"douyin {kind}: answer is not Douyin's envelope") from exc
        if code != "0":
            raise DouyinRefused(
                f"douyin {kind}: error_code {code} {data.get('description', '')}",
                code,
                retryable=code in self.retryable,
            )
        return data  # type: ignore[no-any-return]
