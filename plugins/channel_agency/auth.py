"""Who is calling the agency API: HMAC signature on the raw body, nonces remembered in the
DATABASE (so a replay is refused whichever hub process it reaches), agency status, and a
per-agency rate limit.

The order matters: the signature is checked before anything that costs a write, and the
nonce is recorded only for a request that verified, so junk cannot fill the nonce table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web

from hub.sdk.web import MAX_BODY, ApiError, TokenBuckets
from plugins.channel_agency import signing
from plugins.channel_agency.profiles import Agencies

#: Status per signature code: a bad signature is "who are you" (401); the nonce cache
#: being full is the hub's problem (503).
_STATUS = {signing.REPLAY_CHECK_UNAVAILABLE: 503}


class StoreNonceCache:
    """`signing.NonceCache` on the plugin store: ``add`` is an atomic insert-if-absent
    shared by every hub process."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def seen(self, key: str, nonce: str, ttl: float) -> bool:
        added = await self.store.add("nonce", f"{key}:{nonce}", {}, ttl=timedelta(seconds=ttl))
        return not added


@dataclass(frozen=True, slots=True)
class Caller:
    agency: dict[str, Any]
    body: bytes

    @property
    def agency_id(self) -> str:
        return str(self.agency["id"])


class Guard:
    def __init__(self, agencies: Agencies, ctx: Any, window_seconds: int) -> None:
        self.agencies = agencies
        self.ctx = ctx
        self.window = window_seconds
        self.limiter = TokenBuckets()  # per process: see hub.ratelimit

    async def check(self, request: web.Request) -> Caller:
        """Verify a request or raise `ApiError` in the agency API's vocabulary."""
        body = await _raw_body(request)
        key_id = signing.key_id_of(request.headers)
        key = await self.agencies.key(key_id) if key_id else None
        secret = key["secret"] if key else None
        try:
            verified = signing.verify(
                request.headers,
                request.method,
                request.path,
                request.query,
                body,
                secret_for=lambda _k: secret,
                now=int(self.ctx.clock.now().timestamp()),
                window_seconds=self.window,
            )
            await signing.refuse_replay(StoreNonceCache(self.ctx.store("agency")), verified)
        except signing.SignatureError as exc:
            details = {"canonical_request": exc.canonical} if exc.canonical else {}
            raise ApiError(_STATUS.get(exc.code, 401), exc.code, exc.message, **details) from exc
        assert key is not None
        agency = await self.agencies.get(key["agency"])
        if agency is None:
            raise ApiError(401, signing.UNKNOWN_KEY, "unknown or inactive access key")
        if agency.get("status") != "active":
            raise ApiError(403, "AGENCY_SUSPENDED", "This agency is suspended")
        if not self.limiter.allow(
            agency["id"], float(agency.get("rate_per_second", 10)), int(agency.get("burst", 20))
        ):
            raise ApiError(429, "RATE_LIMITED", "Too many requests; slow down")
        return Caller(agency, body)


async def _raw_body(request: web.Request) -> bytes:
    """The exact bytes that were signed; too large → 413 before anything else."""
    limit = request.app[MAX_BODY]
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "BODY_TOO_LARGE", "Request body too large")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(413, "BODY_TOO_LARGE", "Request body too large") from exc
