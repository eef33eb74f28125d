"""Subscribe messages and the access token they need.

The token comes from ``/cgi-bin/stable_token`` and lives 7200 s. It is cached in memory
and refreshed early, ONE refresh at a time: callers that find it stale wait on one lock
and the first of them fetches (a plain ``@cached`` on an ``async def`` would cache the
coroutine object, not the token). stable_token hands every process the same token while
it is valid, so several hub processes do not invalidate each other.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from plugins.channel_wechat.config import WeChatConfig
from plugins.channel_wechat.trades import mask_openid

log = logging.getLogger(__name__)

REFRESH_MARGIN = 300.0  # seconds before expiry a token is replaced
TOKEN_INVALID = {40001, 40014, 42001}  # invalid / expired access_token
USER_REFUSED = {43101}  # the visitor did not (or no longer) accept this template


class WeChatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str, *, retryable: bool) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.retryable = retryable


async def get_json(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> dict[str, Any]:
    """WeChat's open API answers JSON (sometimes labelled text/plain); errors carry
    ``errcode``. Network trouble and 5xx are retryable ``WeChatApiError(-1)``."""
    try:
        async with http.request(method, url, **kw) as resp:
            raw, status = await resp.read(), resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise WeChatApiError(-1, type(exc).__name__, retryable=True) from None
    if status >= 500:
        raise WeChatApiError(-1, f"HTTP {status}", retryable=True)
    try:
        doc = json.loads(raw)
    except ValueError:
        raise WeChatApiError(-1, f"HTTP {status}: not JSON", retryable=True) from None
    if not isinstance(doc, dict):
        raise WeChatApiError(-1, "not an object", retryable=True)
    code = int(doc.get("errcode") or 0)
    if code:
        raise WeChatApiError(code, str(doc.get("errmsg", ""))[:200], retryable=code == -1)
    return doc


class AccessTokens:
    def __init__(
        self,
        config: WeChatConfig,
        http: Callable[[], aiohttp.ClientSession],
        now: Callable[[], float],
    ) -> None:
        self.config = config
        self._http = http
        self._now = now
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many times WeChat was asked (observable in tests)

    async def get(self) -> str:
        if self._token and self._now() < self._expires - REFRESH_MARGIN:
            return self._token
        async with self._lock:
            if self._token and self._now() < self._expires - REFRESH_MARGIN:
                return self._token  # another caller refreshed while we waited
            return await self._fetch(force=False)

    async def rejected(self, token: str) -> None:
        """WeChat said `token` is invalid: drop it; if stable_token hands the same one
        back, force a new one (once, under the lock)."""
        async with self._lock:
            if self._token != token:
                return  # already replaced
            self._token = None
            fresh = await self._fetch(force=False)
            if fresh == token:
                await self._fetch(force=True)

    async def _fetch(self, *, force: bool) -> str:
        cfg = self.config
        self.fetches += 1
        doc = await get_json(
            self._http(),
            "POST",
            f"{cfg.api_base}/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": cfg.appid,
                "secret": cfg.secret,
                "force_refresh": force,
            },
        )
        token = doc.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatApiError(-1, "no access_token", retryable=True)
        self._token = token
        self._expires = self._now() + float(doc.get("expires_in") or 7200)
        return token


class Messenger:
    def __init__(
        self,
        config: WeChatConfig,
        http: Callable[[], aiohttp.ClientSession],
        tokens: AccessTokens,
    ) -> None:
        self.config = config
        self._http = http
        self.tokens = tokens

    async def send(self, openid: str, template_id: str, page: str, data: Mapping[str, str]) -> None:
        """Send one subscribe message; a rejected token is refreshed and tried once more."""
        body = {
            "touser": openid,
            "template_id": template_id,
            "page": page,
            "data": {k: {"value": str(v)[:20]} for k, v in data.items()},
        }
        for attempt in (1, 2):
            token = await self.tokens.get()
            try:
                await get_json(
                    self._http(),
                    "POST",
                    f"{self.config.api_base}/cgi-bin/message/subscribe/send",
                    params={"access_token": token},
                    json=body,
                )
                return
            except WeChatApiError as exc:
                if exc.errcode in TOKEN_INVALID and attempt == 1:
                    await self.tokens.rejected(token)
                    continue
                if exc.errcode in USER_REFUSED:
                    log.info("wechat message to %s not accepted: %s", mask_openid(openid), exc)
                raise
