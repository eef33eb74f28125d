"""Bearer-token checks for staff APIs (admin, box office)."""

from __future__ import annotations

import hmac

from aiohttp import web

from hub.api.errors import ApiError


def require_bearer(request: web.Request, token: str) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
        raise ApiError(401, "UNAUTHORIZED", "Missing or wrong bearer token")
