"""The audit log page (supervisors and admins): every staff action, newest first."""

from __future__ import annotations

from aiohttp import web

from hub.console import audit
from hub.console.auth import require_role
from hub.console.i18n import N_
from hub.console.nav import NavItem
from hub.console.roles import Role
from hub.console.web import console_of, render
from hub.domain.digits import ascii_int

routes = web.RouteTableDef()
NAV = (NavItem("console.audit", N_("Audit log"), Role.supervisor),)
PAGE = 100


@routes.get("/audit", name="console.audit")
@require_role(Role.supervisor)
async def audit_page(request: web.Request) -> web.StreamResponse:
    before = ascii_int(request.query.get("before", "")) if request.query.get("before") else None
    entries = await audit.recent(console_of(request).engine, limit=PAGE, before_id=before)
    older = entries[-1].id if len(entries) == PAGE else None
    return await render(request, "audit.html", {"entries": entries, "older": older})
