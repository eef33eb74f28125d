"""The devices of every venue's bridge, as the bridges last reported them
(`hub.alerts.health.overview`): online, last seen, event lag, list version, last error."""

from __future__ import annotations

from aiohttp import web

from hub.alerts.health import overview
from hub.console.web import N_, NavItem, Role, console_of, render, require_role

routes = web.RouteTableDef()
NAV = (NavItem("console.devices", N_("Devices"), Role.viewer),)


@routes.get("/devices", name="console.devices")
@require_role(Role.viewer)
async def devices_page(request: web.Request) -> web.StreamResponse:
    services = console_of(request)
    venue = request.query.get("venue", "")[:64]
    bridges = await overview(services.engine, services.clock.now(), venue)
    return await render(request, "devices.html", {"bridges": bridges, "venue": venue})
