"""Alerts for people: the unresolved ones (live over SSE), each alert's page with
acknowledge (operators and up, a note required) and resolve by hand (supervisors and up,
only while the value reads below the opening level — `hub.alerts.manual`), and the
history of resolved alerts.

The moves are `hub.alerts`' own (`engine.acknowledge`, `manual.resolve_by_hand`), written
with their audit line in one transaction; clearing messages leave through the outbox as
the evaluation's do. The rules' pages are `alert_rules`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.alerts import engine, manual
from hub.console.web import (
    N_,
    NavItem,
    Role,
    console_of,
    error_page,
    gettext,
    hub_of,
    page_context,
    periodic,
    record_audit,
    remote_of,
    render,
    require_role,
    signed_in,
    stream,
)
from hub.storage.db import reader

routes = web.RouteTableDef()
NAV = (NavItem("console.alerts", N_("Alerts"), Role.viewer),)
REFRESH_SECONDS = 1.0
"""How often an open alerts page re-reads the unresolved alerts (a few rows; sent only
when they changed)."""
HISTORY = 200
NOTE_MAX = 500  # engine.AlertRow.ack_note
ID = r"{alert_id:\d{1,9}}"
STATES = (N_("open"), N_("acknowledged"), N_("resolved"))  # engine.STATES, as pages say them


def when(iso: str | None) -> str:
    """An alert's timestamp as the pages show it (UTC, to the second)."""
    if not iso:
        return ""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def shown(alert: dict[str, Any]) -> dict[str, Any]:
    return {
        **alert,
        **{k: when(alert.get(k)) for k in ("opened_at", "acked_at", "resolved_at")},
    }


async def unresolved(request: web.Request) -> list[dict[str, Any]]:
    async with reader(hub_of(request).engine).connect() as conn:
        rows = await engine.listing(conn, state=engine.OPEN)
        rows += await engine.listing(conn, state=engine.ACKED)
    return [shown(a) for a in sorted(rows, key=lambda a: -int(a["id"]))]


@routes.get("/alerts", name="console.alerts")
@require_role(Role.viewer)
async def alerts_page(request: web.Request) -> web.StreamResponse:
    context = {
        "alerts": await unresolved(request),
        "can_rules": signed_in(request).role.allows(Role.supervisor),
    }
    return await render(request, "alerts.html", context)


@routes.get("/events/alerts", name="console.alerts_events")
@require_role(Role.viewer)
async def alerts_events(request: web.Request) -> web.StreamResponse:
    """The unresolved alerts as an HTML fragment, whenever they change."""

    async def events() -> AsyncIterator[tuple[str, str]]:
        last = None
        async for _ in periodic(REFRESH_SECONDS):
            context = {**page_context(request), "alerts": await unresolved(request)}
            html = aiohttp_jinja2.render_string("alerts_open.html", request, context)
            if html != last:
                last = html
                yield "alerts", html

    return await stream(request, events())


@routes.get("/alerts/history", name="console.alert_history")
@require_role(Role.viewer)
async def history(request: web.Request) -> web.StreamResponse:
    async with reader(hub_of(request).engine).connect() as conn:
        rows = await engine.listing(conn, state=engine.RESOLVED, limit=HISTORY)
    return await render(request, "alert_history.html", {"alerts": [shown(a) for a in rows]})


async def _alert_page(
    request: web.Request, alert_id: int, *, error: str = "", note: str = "", status: int = 200
) -> web.StreamResponse:
    async with reader(hub_of(request).engine).connect() as conn:
        row = await manual.alert(conn, alert_id)
        rule = await manual.rule(conn, int(row["rule_id"])) if row else None
    if row is None:
        return error_page(request, 404, gettext("No such alert."))
    role = signed_in(request).role
    context = {
        "alert": shown(row),
        "rule": rule,
        "error": error,
        "note": note,
        "can_ack": role.allows(Role.operator) and row["state"] == engine.OPEN,
        "can_resolve": role.allows(Role.supervisor) and row["state"] != engine.RESOLVED,
    }
    return await render(request, "alert.html", context, status=status)


@routes.get(f"/alerts/{ID}", name="console.alert")
@require_role(Role.viewer)
async def alert_page(request: web.Request) -> web.StreamResponse:
    return await _alert_page(request, int(request.match_info["alert_id"]))


async def _note(request: web.Request) -> str:
    form = await request.post()
    return str(form.get("note", "")).strip()


@routes.post(f"/alerts/{ID}/ack", name="console.alert_ack")
@require_role(Role.operator)
async def acknowledge(request: web.Request) -> web.StreamResponse:
    """A person saw it: who and a note (reminders stop; it still clears by itself)."""
    alert_id, staff = int(request.match_info["alert_id"]), signed_in(request)
    note = await _note(request)
    if not note or len(note) > NOTE_MAX:
        why = gettext("Write a note of what was seen or done (at most %(n)d characters).")
        return await _alert_page(
            request, alert_id, error=why % {"n": NOTE_MAX}, note=note[:NOTE_MAX], status=422
        )
    now = hub_of(request).alerts.clock.now()
    try:
        async with console_of(request).engine.begin() as conn:
            row = await engine.acknowledge(conn, alert_id, by=staff.username, note=note, now=now)
            if row is not None:
                await record_audit(
                    conn,
                    now,
                    actor=staff.username,
                    action="alert.acknowledge",
                    target=f"alert:{alert_id}",
                    before={"state": engine.OPEN},
                    after={"state": engine.ACKED, "note": note},
                    remote=remote_of(request),
                )
    except engine.BadMove:
        why = gettext("This alert is no longer open: someone acknowledged it or it cleared.")
        return await _alert_page(request, alert_id, error=why, status=409)
    if row is None:
        return error_page(request, 404, gettext("No such alert."))
    raise web.HTTPSeeOther(str(request.app.router["console.alert"].url_for(alert_id=str(alert_id))))


@routes.post(f"/alerts/{ID}/resolve", name="console.alert_resolve")
@require_role(Role.supervisor)
async def resolve(request: web.Request) -> web.StreamResponse:
    """Resolve by hand, with a note; refused while the value is at or above the opening
    level (the next evaluation would open it again)."""
    alert_id, staff = int(request.match_info["alert_id"]), signed_in(request)
    hub = hub_of(request)
    note = await _note(request)
    if not note or len(note) > NOTE_MAX:
        why = gettext("Write a note of what was seen or done (at most %(n)d characters).")
        return await _alert_page(
            request, alert_id, error=why % {"n": NOTE_MAX}, note=note[:NOTE_MAX], status=422
        )
    now = hub.alerts.clock.now()
    try:
        async with console_of(request).engine.begin() as conn:
            row = await manual.alert(conn, alert_id)
            if row is None:
                return error_page(request, 404, gettext("No such alert."))
            why = f"人工解除 · resolved by {staff.username}: {note}"
            move = await manual.resolve_by_hand(
                conn, row, now=now, enqueue=hub.outbox.enqueue, why=why[:500]
            )
            if move is not None:
                await record_audit(
                    conn,
                    now,
                    actor=staff.username,
                    action="alert.resolve",
                    target=f"alert:{alert_id}",
                    before={"state": row["state"]},
                    after={"state": engine.RESOLVED, "value": move.value, "note": note},
                    remote=remote_of(request),
                )
    except manual.StillAbove as exc:
        why = gettext(
            "Not resolved: the value is %(value)s, at or above the opening level %(open_at)s, "
            "so the next evaluation would open it again."
        ) % {"value": f"{exc.value:g}", "open_at": f"{exc.open_at:g}"}
        return await _alert_page(request, alert_id, error=why, note=note, status=409)
    if move is None:
        why = gettext("This alert is already resolved.")
        return await _alert_page(request, alert_id, error=why, status=409)
    hub.outbox.notify()
    raise web.HTTPSeeOther(str(request.app.router["console.alert"].url_for(alert_id=str(alert_id))))
