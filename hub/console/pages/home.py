"""The landing page: today's figures per venue, kept fresh over server-sent events.

The figures are the ones the admin API already serves: the flow counters the bridge
uploads keep (`hub.redemptions.feed.flow`, one row per venue and day) and the outbox's
calls per state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from hub.console.auth import require_role
from hub.console.i18n import N_
from hub.console.nav import NavItem
from hub.console.roles import Role
from hub.console.web import console_of, page_context, periodic, render, stream
from hub.outbox.store import OutboxStore
from hub.redemptions.feed import flow
from hub.storage.tables import VenueRow

routes = web.RouteTableDef()
NAV = (NavItem("console.home", N_("Today"), Role.viewer),)
VENUE = VenueRow.__table__
REFRESH_SECONDS = 10.0


async def figures(request: web.Request) -> dict[str, Any]:
    services = console_of(request)
    now = services.clock.now()
    async with services.engine.connect() as conn:
        venues = (await conn.execute(select(VENUE).order_by(VENUE.c.id))).mappings().all()
    rows = []
    for v in venues:
        day = now.astimezone(ZoneInfo(v["timezone"])).date()
        rows.append({"name": v["name"], "id": v["id"], **await flow(services.engine, v["id"], day)})
    calls = await OutboxStore.stats(services.engine)
    outbox = {
        state: sum(per.get(state, 0) for per in calls.values())
        for state in ("pending", "inflight", "dead")
    }
    return {"venues": rows, "outbox": outbox, "at": now}


@routes.get("/", name="console.home")
@require_role(Role.viewer)
async def home(request: web.Request) -> web.StreamResponse:
    return await render(request, "home.html", await figures(request))


@routes.get("/events/figures", name="console.home_events")
@require_role(Role.viewer)
async def home_events(request: web.Request) -> web.StreamResponse:
    """The figures again every few seconds, as an HTML fragment htmx swaps in."""

    async def events() -> AsyncIterator[tuple[str, str]]:
        async for _ in periodic(REFRESH_SECONDS):
            context = {**page_context(request), **await figures(request)}
            yield "figures", aiohttp_jinja2.render_string("home_figures.html", request, context)

    return await stream(request, events())
