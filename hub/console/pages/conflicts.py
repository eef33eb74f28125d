"""Double-use conflicts of every venue (`hub.console.ops.conflicts`), and resolving one
with a note (supervisors and up; audited in the resolution's own transaction)."""

from __future__ import annotations

from aiohttp import web

from hub.console.ops import conflicts, labels
from hub.console.web import (
    N_,
    NavItem,
    Role,
    console_of,
    gettext,
    note_problem,
    remote_of,
    render,
    require_role,
    signed_in,
)

routes = web.RouteTableDef()
NAV = (NavItem("console.conflicts", N_("Double use"), Role.viewer),)
REDEMPTION_ID_MAX = 64


async def _page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    open_only = request.query.get("open") == "1"
    async with console_of(request).engine.connect() as conn:
        venues = await conflicts.venues(conn)
        found = await conflicts.listing(conn, venues, open_only=open_only)
    return await render(
        request,
        "conflicts.html",
        {
            "conflicts": found,
            "open_only": open_only,
            "error": error,
            "resolved": request.query.get("resolved", ""),
            "can_resolve": signed_in(request).role.allows(Role.supervisor),
            "note_max": conflicts.NOTE_MAX,
            "labels": labels,
            "label": labels.label,
        },
        status=status,
    )


@routes.get("/conflicts", name="console.conflicts")
@require_role(Role.viewer)
async def conflicts_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@routes.post("/conflicts/{redemption_id}/resolve", name="console.conflict_resolve")
@require_role(Role.supervisor)
async def resolve(request: web.Request) -> web.StreamResponse:
    redemption_id = request.match_info["redemption_id"]
    if len(redemption_id) > REDEMPTION_ID_MAX:
        raise web.HTTPNotFound()
    form = await request.post()
    note = str(form.get("note", "")).strip()
    problem = note_problem(note, conflicts.NOTE_MAX)
    if problem is not None:
        return await _page(request, error=problem, status=422)
    services = console_of(request)
    async with services.engine.begin() as conn:
        outcome = await conflicts.resolve(
            conn,
            redemption_id,
            actor=signed_in(request).username,
            note=note,
            now=services.clock.now(),
            remote=remote_of(request),
        )
    if outcome == "unknown":
        raise web.HTTPNotFound()
    if outcome == "already":
        return await _page(
            request, error=gettext("Someone resolved this conflict already."), status=409
        )
    url = request.app.router["console.conflicts"].url_for()
    raise web.HTTPSeeOther(f"{url}?resolved={redemption_id}")
