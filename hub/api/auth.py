"""Bearer-token checks for staff APIs (admin, box office)."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from aiohttp import web

from hub.api.errors import ApiError

if TYPE_CHECKING:
    from hub.api.app import Hub


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


def staff_hub(request: web.Request) -> Hub:
    """The hub behind a venue-staff (admin) route, once the admin token is checked."""
    from hub.api.app import HUB

    hub = request.app[HUB]
    require_bearer(request, hub.settings.admin_token)
    return hub
