"""What a console page imports: the console's services, rendering with the layout, the
signed-in person and role checks, translation, SSE and the audit log — all from here.

See ``hub/console/README.md`` for a worked example of a page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import Clock
from hub.console import i18n
from hub.console.audit import record as record_audit
from hub.console.auth import (
    SessionRules,
    csrf_token,
    current_staff,
    remote_of,
    require_role,
    signed_in,
)
from hub.console.i18n import N_, gettext, ngettext
from hub.console.nav import NavItem
from hub.console.roles import Role
from hub.console.sse import periodic, stream
from hub.console.staff import StaffService
from hub.console.throttle import LoginThrottle

if TYPE_CHECKING:
    from hub.api.app import Hub

__all__ = [
    "CONSOLE",
    "N_",
    "PREFIX",
    "ConsoleServices",
    "NavItem",
    "Role",
    "console_of",
    "current_staff",
    "error_page",
    "gettext",
    "hub_of",
    "ngettext",
    "note_problem",
    "page_context",
    "periodic",
    "record_audit",
    "remote_of",
    "render",
    "require_role",
    "signed_in",
    "static_url",
    "stream",
]

PREFIX = "/console"


@dataclass
class ConsoleServices:
    """What console handlers use besides the hub's own services (typed app state)."""

    engine: AsyncEngine
    clock: Clock
    staff: StaffService
    throttle: LoginThrottle
    rules: SessionRules
    nav: list[NavItem]
    streams: set[asyncio.Task[Any]] = field(default_factory=set)


CONSOLE = web.AppKey("console", ConsoleServices)


def hub_of(request: web.Request) -> Hub:
    """The hub's own services (orders, outbox, catalog, ...). Imported when called:
    `hub.api.app` mounts the console, so a page cannot import it at module level."""
    from hub.api.app import HUB

    return request.config_dict[HUB]


def static_url(path: str) -> str:
    """URL of a file under ``hub/console/static`` (``vendor/htmx/htmx.min.js``)."""
    return f"{PREFIX}/static/{path}"


def console_of(request: web.Request) -> ConsoleServices:
    return request.config_dict[CONSOLE]


def page_context(request: web.Request) -> dict[str, Any]:
    """What the layout needs on every page (the nav the person's role may see, the CSRF
    token, the language)."""
    staff = current_staff(request)
    services = console_of(request)
    session = request.get("aiohttp_session")
    return {
        "staff": staff,
        "nav": [n for n in services.nav if staff is not None and staff.role.allows(n.needs)],
        "csrf_token": csrf_token(session) if session is not None else "",
        "language": i18n.LANGUAGE.get(),
        "path": request.path,
    }


async def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    """A page: ``template`` (extending ``layout.html``) with the layout's context."""
    await get_session(request)  # loaded, so the CSRF token can be put in the page
    return aiohttp_jinja2.render_template(
        template, request, {**page_context(request), **(context or {})}, status=status
    )


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    return aiohttp_jinja2.render_template(
        "error.html",
        request,
        {**page_context(request), "status": status, "message": message},
        status=status,
    )


def note_problem(note: str, max_chars: int) -> str | None:
    """What is wrong with a staff member's note on a resolving move (a discrepancy, a
    double-use conflict), in their language; ``None`` when it will do. Every such move
    needs a note: it is the audit line's "why"."""
    if not note:
        return gettext("Write a note: what was found and done.")
    if len(note) > max_chars:
        return gettext("The note is too long (at most %(n)d characters).") % {"n": max_chars}
    return None
