"""Bearer-token checks for staff APIs (admin, box office, a plugin's own staff routes).

Partner signatures are checked by each channel's spec (`hub.sdk.channels`)."""

from __future__ import annotations

import hmac

from aiohttp import web

from hub.sdk.web.errors import ApiError


def bearer_matches(request: web.Request, *tokens: str) -> bool:
    """True when the request's ``Authorization: Bearer`` token is one of `tokens` (an
    empty token, one not configured, never matches)."""
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and any(
        t and hmac.compare_digest(given.strip(), t) for t in tokens
    )


def require_bearer(request: web.Request, *tokens: str) -> None:
    """Any one of `tokens` lets the request in (a route several staff roles share)."""
    if not bearer_matches(request, *tokens):
        raise ApiError(401, "UNAUTHORIZED", "Missing or wrong bearer token")
