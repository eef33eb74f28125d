"""Signing in and out, and the language switch."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp_session import get_session, new_session

from hub.console import audit as audit_log
from hub.console.auth import current_staff, remote_of, start_session
from hub.console.i18n import LANGUAGE, gettext
from hub.console.nav import NavItem
from hub.console.roles import LANGUAGES
from hub.console.throttle import account_key, address_key
from hub.console.web import console_of, render

routes = web.RouteTableDef()
NAV: tuple[NavItem, ...] = ()
HOME = "/console/"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def safe_next(value: str | None) -> str:
    """Only a path inside the console (never ``//host`` or another site)."""
    if value and value.startswith("/console/") and not value.startswith("//") and "\\" not in value:
        return value
    return HOME


@routes.get("/login", name="console.login")
async def login_page(request: web.Request) -> web.StreamResponse:
    if current_staff(request) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return await render(
        request,
        "login.html",
        {"next": safe_next(request.query.get("next")), "error": None, "username": ""},
    )


def _until(when: datetime) -> str:
    return when.astimezone(SHANGHAI).strftime("%H:%M")


@routes.post("/login", name="console.login_post")
async def login(request: web.Request) -> web.StreamResponse:
    services = console_of(request)
    form = await request.post()
    username = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))[:1024]
    nxt = safe_next(str(form.get("next", "")))
    keys = (account_key(username), address_key(remote_of(request)))

    async def refuse(message: str, status: int) -> web.StreamResponse:
        return await render(
            request,
            "login.html",
            {"next": nxt, "error": message, "username": username},
            status=status,
        )

    blocked = await services.throttle.blocked_until(*keys)
    if blocked is not None:
        return await refuse(
            gettext("Too many failed sign-ins. Try again after %(time)s.")
            % {"time": _until(blocked)},
            429,
        )
    staff = await services.staff.authenticate(username, password)
    if staff is None:
        blocked = await services.throttle.failed(*keys)
        if blocked is not None:
            async with services.engine.begin() as conn:
                await audit_log.record(
                    conn,
                    services.clock.now(),
                    actor=username or "?",
                    action="staff.throttled",
                    target=f"staff:{username}",
                    after={"until": blocked.isoformat()},
                    remote=remote_of(request),
                )
            return await refuse(
                gettext("Too many failed sign-ins. Try again after %(time)s.")
                % {"time": _until(blocked)},
                429,
            )
        return await refuse(gettext("Wrong username or password."), 401)
    await services.throttle.succeeded(keys[0])
    session = await new_session(request)  # a new session id: no fixation
    now = services.clock.now()
    start_session(session, staff, now.timestamp())
    async with services.engine.begin() as conn:
        await audit_log.record(
            conn,
            now,
            actor=staff.username,
            action="staff.login",
            target=f"staff:{staff.username}",
            remote=remote_of(request),
        )
    raise web.HTTPSeeOther(nxt)


@routes.post("/logout", name="console.logout")
async def logout(request: web.Request) -> web.StreamResponse:
    services = console_of(request)
    staff = current_staff(request)
    session = await get_session(request)
    if staff is not None:
        async with services.engine.begin() as conn:
            await audit_log.record(
                conn,
                services.clock.now(),
                actor=staff.username,
                action="staff.logout",
                target=f"staff:{staff.username}",
                remote=remote_of(request),
            )
    language = session.get("lang")
    session.invalidate()
    if language in LANGUAGES:  # the login page stays in the person's language
        (await new_session(request))["lang"] = language
    raise web.HTTPSeeOther(str(request.app.router["console.login"].url_for()))


@routes.post("/language", name="console.language")
async def language(request: web.Request) -> web.StreamResponse:
    """The person's language: kept on the staff account (audited), or in the session on
    the login page."""
    form = await request.post()
    chosen = str(form.get("language", ""))
    if chosen not in LANGUAGES:
        raise web.HTTPSeeOther(HOME)
    staff = current_staff(request)
    session = await get_session(request)
    if staff is not None and staff.language != chosen:
        services = console_of(request)
        await services.staff.set_language(
            staff.username, chosen, actor=staff.username, remote=remote_of(request)
        )
    session["lang"] = chosen
    LANGUAGE.set(chosen)
    raise web.HTTPSeeOther(
        safe_next(str(form.get("next", "")))
        if staff
        else str(request.app.router["console.login"].url_for())
    )
