"""The flow wall (可视化大屏): one venue's live figures on a 1920×1080 screen.

The page is drawn once with the venue's current snapshot (`hub.wall.stream.WallFeed`,
counters only) embedded as JSON; its script (``static/wall/wall.js``) draws the ECharts
and tables from it, then listens to ``/console/wall/stream`` — the flow wall's own
server-sent events (`hub.api.wall.stream_wall`: one builder per venue per process, each
snapshot encoded once for every open wall), behind the staff session instead of the
admin token — and updates the charts in place. No figure is read per stream or per
refresh: fifty open walls cost one snapshot per change.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from hub.console.web import (
    N_,
    NavItem,
    Role,
    console_of,
    gettext,
    hub_of,
    render,
    require_role,
)
from hub.sdk.web.errors import ApiError
from hub.storage.db import reader
from hub.storage.tables import VenueRow

routes = web.RouteTableDef()
NAV = (NavItem("console.wall", N_("Flow wall"), Role.viewer),)
VENUE = VenueRow.__table__.c

#: the words the page's script puts on charts and tables (translated per request)
LABELS = {
    "in_park": N_("In park"),
    "maximum": N_("Maximum"),
    "no_maximum": N_("No maximum set"),
    "entries": N_("Entries"),
    "exits": N_("Exits"),
    "sold": N_("Sold"),
    "arrived": N_("Arrived"),
    "not_arrived": N_("Not yet arrived"),
    "online": N_("Online"),
    "offline": N_("Offline"),
    "unknown": N_("Unknown"),
    "seconds_ago": N_("%(n)s s ago"),
    "minutes_ago": N_("%(n)s min ago"),
    "never": N_("never"),
    "bridge": N_("Bridge"),
    "connected": N_("Live"),
    "reconnecting": N_("Reconnecting…"),
    "yuan": N_("yuan"),
    "total": N_("Total"),
    "devices_offline": N_("%(off)s of %(all)s offline"),
    "devices_online": N_("all %(all)s online"),
}


async def venues(request: web.Request) -> list[dict[str, str]]:
    """The venues the picker offers (a few rows)."""
    async with reader(console_of(request).engine).connect() as conn:
        rows = await conn.execute(select(VENUE.id, VENUE.name).order_by(VENUE.id))
        return [{"id": r.id, "name": r.name} for r in rows.all()]


def chosen(request: web.Request, known: list[dict[str, str]]) -> str | None:
    """``?venue=`` when it names a venue, else the first venue; 404 for an unknown one."""
    wanted = request.query.get("venue", "")
    if wanted:
        if not any(v["id"] == wanted for v in known):
            raise web.HTTPNotFound()
        return wanted
    return known[0]["id"] if known else None


@routes.get("/wall", name="console.wall")
@require_role(Role.viewer)
async def wall(request: web.Request) -> web.StreamResponse:
    known = await venues(request)
    venue_id = chosen(request, known)
    snapshot: dict[str, Any] | None = None
    if venue_id is not None:
        snapshot = await hub_of(request).wall.snapshot(venue_id)
    labels = {key: gettext(text) for key, text in LABELS.items()}
    return await render(
        request,
        "wall.html",
        {"venues": known, "venue_id": venue_id, "snapshot": snapshot, "labels": labels},
    )


@routes.get("/wall/stream", name="console.wall_stream")
@require_role(Role.viewer)
async def wall_stream(request: web.Request) -> web.StreamResponse:
    """The venue's snapshots as server-sent events (``event: snapshot``, JSON): the
    flow wall's stream, for a signed-in person instead of the admin token."""
    from hub.api.wall import stream_wall

    venue_id = chosen(request, await venues(request))
    if venue_id is None:
        raise web.HTTPNotFound()
    # not in the console's `streams` (cancelled at shutdown): the wall's feed ends its
    # streams itself when the hub stops (`WallFeed.close`), and cleanly
    try:
        return await stream_wall(request, hub_of(request), venue_id)
    except ApiError as e:  # the venue went, or the hub is stopping: no API JSON here
        if e.status == 404:
            raise web.HTTPNotFound() from None
        raise web.HTTPServiceUnavailable(reason=e.code) from None
