"""Routes anyone on the network may call: health, metrics, the API description, and the
public keys and revocation list a venue bridge needs to verify tickets offline."""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select, text

from hub.api.errors import ApiError
from hub.api.routing import ApiRoutes
from hub.gauges import gauges_for
from hub.storage.db import reader
from hub.storage.tables import TicketRow

if TYPE_CHECKING:
    from hub.api.app import Hub


def _hub(request: web.Request) -> Hub:
    from hub.api.app import HUB

    return request.app[HUB]


def add_routes(routes: ApiRoutes) -> None:
    @routes.get(
        "/healthz",
        summary="Liveness and database reachability",
        tag="ops",
        responses={200: "healthy", 503: "database unreachable"},
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

    @routes.get("/metrics", summary="Prometheus metrics", tag="ops")
    async def metrics(request: web.Request) -> web.Response:
        hub = _hub(request)
        # in-park and the outbox backlog come from the database, so every hub agrees
        await gauges_for(hub.engine, hub.clock, hub.settings.metrics_db_seconds).refresh()
        resp = web.Response(body=generate_latest())
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    @routes.get("/api/openapi.json", summary="This API, described", tag="ops")
    async def openapi_doc(request: web.Request) -> web.Response:
        from hub.api.routing import openapi

        try:
            version = metadata.version("tickethub")
        except metadata.PackageNotFoundError:
            version = "0"
        hub = _hub(request)
        return web.json_response(openapi(hub.routes.docs, title="tickethub", version=version))

    @routes.get(
        "/api/venues/{venue_id}/keys",
        summary="Public keys that verify QR credentials",
        tag="venue",
        responses={200: "keys", 404: "unknown venue"},
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
