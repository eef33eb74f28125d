"""Routes anyone on the network may call: health, metrics, the API description, and the
public keys and revocation list a venue bridge needs to verify tickets offline."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select, text

from hub.gauges import gauges_for
from hub.sdk.web.errors import ApiError
from hub.sdk.web.routing import ApiRoutes, JsonSchema
from hub.storage.db import reader
from hub.storage.tables import TicketRow

if TYPE_CHECKING:
    from hub.api.app import Hub


def _hub(request: web.Request) -> Hub:
    from hub.api.app import HUB

    return request.app[HUB]


STATIC = Path(__file__).parent / "static"
REDOC = STATIC / "redoc" / "redoc.standalone.js"
#: The docs page loads nothing from elsewhere: its script, the document, and inline styles
#: (Redoc's styled-components) and a blob: worker (its search index).
DOCS_CSP = (
    "default-src 'none'; script-src 'self' blob:; worker-src 'self' blob:; "
    "connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tickethub API</title>
<style>body { margin: 0; }</style>
</head>
<body>
<redoc spec-url="/api/openapi.json" hide-download-button="false"></redoc>
<script src="/api/docs/redoc.standalone.js"></script>
</body>
</html>
"""


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> JsonSchema:
    return {"type": "object", "required": required or list(properties), "properties": properties}


STR: JsonSchema = {"type": "string"}
INT: JsonSchema = {"type": "integer"}
HEALTH = _obj({"status": {"const": "ok"}, "db": STR})
VENUE_KEYS = _obj(
    {
        "venue_id": STR,
        "keys": {
            "type": "array",
            "items": _obj({"key_id": INT, "public_key": STR, "algorithm": {"const": "Ed25519"}}),
        },
    }
)
REVOKED = _obj(
    {
        "revoked": {
            "type": "array",
            "items": _obj({"ticket_id": STR, "at": {"type": "string", "format": "date-time"}}),
        }
    }
)


def add_routes(routes: ApiRoutes) -> None:
    @routes.get(
        "/healthz",
        summary="Liveness and database reachability",
        tag="ops",
        responses={200: "healthy", 503: "database unreachable"},
        response=HEALTH,
    )
    async def healthz(request: web.Request) -> web.Response:
        hub = _hub(request)
        try:
            async with reader(hub.engine).connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise ApiError(
                503, "UNAVAILABLE", f"database unreachable: {type(exc).__name__}"
            ) from exc
        return web.json_response({"status": "ok", "db": hub.engine.dialect.name})

    @routes.get(
        "/metrics", summary="Prometheus metrics", tag="ops", media=CONTENT_TYPE_LATEST.split(";")[0]
    )
    async def metrics(request: web.Request) -> web.Response:
        hub = _hub(request)
        # in-park and the outbox backlog come from the database, so every hub agrees
        await gauges_for(hub.engine, hub.clock, hub.settings.metrics_db_seconds).refresh()
        resp = web.Response(body=generate_latest())
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    @routes.get(
        "/api/openapi.json",
        summary="This API, described (OpenAPI 3.1)",
        tag="ops",
        response={"type": "object", "required": ["openapi", "paths"]},
    )
    async def openapi_doc(request: web.Request) -> web.Response:
        try:
            version = metadata.version("tickethub")
        except metadata.PackageNotFoundError:
            version = "0"
        doc = _hub(request).routes.document(title="tickethub", version=version)
        return web.json_response(doc)

    @routes.get(
        "/api/docs", summary="This API as a page to read (Redoc)", tag="ops", media="text/html"
    )
    async def docs_page(request: web.Request) -> web.Response:
        return web.Response(
            text=DOCS_PAGE,
            content_type="text/html",
            headers={"Content-Security-Policy": DOCS_CSP, "X-Content-Type-Options": "nosniff"},
        )

    @routes.get(
        "/api/docs/redoc.standalone.js",
        summary="Redoc, vendored (MIT; LICENSE beside it in hub/api/static/redoc)",
        tag="ops",
        media="text/javascript",
    )
    async def docs_script(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(
            REDOC,
            headers={
                "Content-Type": "text/javascript; charset=utf-8",
                "Cache-Control": "public, max-age=86400",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @routes.get(
        "/api/venues/{venue_id}/keys",
        summary="Public keys that verify QR credentials",
        tag="venue",
        responses={200: "keys", 404: "unknown venue"},
        response=VENUE_KEYS,
    )
    async def venue_keys(request: web.Request) -> web.Response:
        found = await _hub(request).catalog.venue(request.match_info["venue_id"])
        if found is None:
            raise ApiError(404, "UNKNOWN_VENUE", "No such venue")
        venue, keys = found
        return web.json_response(
            {
                "venue_id": venue.id,
                "keys": [
                    {"key_id": keys.key_id, "public_key": keys.public_key, "algorithm": "Ed25519"}
                ],
            }
        )

    @routes.get(
        "/api/venues/{venue_id}/revocations",
        summary="Revoked tickets (refunded, cancelled)",
        tag="venue",
        query={"since": "ISO time: only revocations after it"},
        response=REVOKED,
    )
    async def revocations(request: web.Request) -> web.Response:
        from datetime import datetime

        t = TicketRow.__table__.c
        stmt = select(t.id, t.revoked_at).where(
            t.venue_id == request.match_info["venue_id"], t.state == "revoked"
        )
        since = request.query.get("since")
        if since:
            try:
                after = datetime.fromisoformat(since)
            except ValueError as exc:
                raise ApiError(400, "INVALID_REQUEST", "since: not an ISO datetime") from exc
            if after.tzinfo is None:
                raise ApiError(400, "INVALID_REQUEST", "since: needs a UTC offset")
            stmt = stmt.where(t.revoked_at > after)
        async with reader(_hub(request).engine).connect() as conn:
            rows = (await conn.execute(stmt.order_by(t.revoked_at))).all()
        return web.json_response(
            {"revoked": [{"ticket_id": r.id, "at": r.revoked_at.isoformat()} for r in rows]}
        )
