"""Admin API of device and bridge health: what each venue's bridge last reported of
itself (last seen, clock skew, link in use, backlog) and of its devices (online, last
seen, event lag, list version, last error). The data is `hub.alerts.health`'s; the
console's wall and devices page call `hub.alerts.health.overview` directly."""

from __future__ import annotations

from aiohttp import web

from hub.alerts import health
from hub.api.staff import staff_hub
from hub.sdk.web.routing import ApiRoutes, JsonSchema
from hub.storage.db import reader

_LIST: JsonSchema = {"type": "array", "items": {"type": "object"}}
BRIDGES: JsonSchema = {"type": "object", "required": ["bridges"], "properties": {"bridges": _LIST}}
DEVICES: JsonSchema = {"type": "object", "required": ["devices"], "properties": {"devices": _LIST}}


def add_routes(routes: ApiRoutes) -> None:
    @routes.get(
        "/api/admin/bridges",
        summary="Each venue bridge: last seen, clock skew, link in use, backlog, its devices",
        tag="admin",
        auth="admin",
        query={"venue": "venue id (optional; all venues without it)"},
        response=BRIDGES,
    )
    async def bridges(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        venue_id = request.query.get("venue", "")
        found = await health.overview(hub.engine, hub.clock.now(), venue_id)
        return web.json_response({"bridges": found})

    @routes.get(
        "/api/admin/devices",
        summary="Devices as their bridges last reported them (online, last seen, event lag, "
        "list version, last error)",
        tag="admin",
        auth="admin",
        query={"venue": "venue id (optional; all venues without it)"},
        response=DEVICES,
    )
    async def devices(request: web.Request) -> web.Response:
        hub = staff_hub(request)
        async with reader(hub.engine).connect() as conn:
            found = await health.devices(conn, hub.clock.now(), request.query.get("venue", ""))
        return web.json_response({"devices": found})
