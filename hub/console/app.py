"""The console sub-application, mounted by the hub at ``/console``.

A sub-application so that its session cookie, CSRF check, language and HTML error pages
apply to the console's pages only; the JSON API around it is untouched. It reads the
hub's services (`hub.api.app.HUB`) through ``request.config_dict``.

Pages are modules listed in `PAGES`; see ``hub/console/README.md`` for adding one.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hub.clock import Clock
from hub.config import ConfigError
from hub.console import i18n
from hub.console.auth import SAFE_METHODS, STAFF_KEY, SessionRules, csrf_ok, load_staff, to_login
from hub.console.nav import NavItem
from hub.console.pages import alert_rules, alerts, audit, home, login, wall
from hub.console.pages import conflicts as conflict_pages
from hub.console.pages import devices as device_pages
from hub.console.pages import orders as order_pages
from hub.console.pages import outbox as outbox_pages
from hub.console.pages import reconcile as reconcile_pages
from hub.console.roles import DEFAULT_LANGUAGE, LANGUAGES
from hub.console.staff import StaffService
from hub.console.throttle import LoginThrottle
from hub.console.web import (
    CONSOLE,
    PREFIX,
    ConsoleServices,
    console_of,
    error_page,
    static_url,
)
from hub.settings import Settings

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
COOKIE = "tickethub_console"
SESSION_INFO = b"tickethub console session cookie"

#: The console's pages, in nav order. Each module has ``routes`` (a `web.RouteTableDef`)
#: and ``NAV`` (its entries in the layout's navigation, possibly none).
PAGES: tuple[ModuleType, ...] = (login, home, wall, alerts, alert_rules, audit)
PAGES += (order_pages, outbox_pages, conflict_pages, device_pages)  # operations pages
PAGES += (reconcile_pages,)  # day report, discrepancies, statements in


def session_key(settings: Settings) -> bytes:
    """The Fernet key of the session cookie: ``TICKETHUB_CONSOLE_SESSION_KEY`` (base64 of
    32 bytes), or one derived from the ID-hash secret (development only, see
    `hub.devmode`)."""
    configured = settings.console_session_key
    if not configured:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SESSION_INFO).derive(
            settings.id_hash_secret.encode()
        )
    try:
        key = base64.b64decode(configured, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("TICKETHUB_CONSOLE_SESSION_KEY is not base64") from None
    if len(key) != 32:
        raise ConfigError(
            f"TICKETHUB_CONSOLE_SESSION_KEY decodes to {len(key)} bytes; it must be 32"
        )
    return key


def create_console(
    settings: Settings, engine_of: Any, clock: Clock, pages: tuple[ModuleType, ...] = PAGES
) -> web.Application:
    """The console sub-application.

    :param engine_of: returns the hub's database engine once the hub has started (the
        console's services are built at start-up, after the hub's).
    :raises hub.config.ConfigError: an unusable ``TICKETHUB_CONSOLE_SESSION_KEY``.
    """
    app = web.Application()
    storage = EncryptedCookieStorage(
        session_key(settings),
        cookie_name=COOKIE,
        path=PREFIX,
        httponly=True,
        samesite="Lax",
        secure=settings.console_secure_cookie or None,
        max_age=int(settings.console_session_hours * 3600),
    )
    setup_session(app, storage)
    app.middlewares.append(console_middleware)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
    )
    i18n.install(env)
    env.globals["static_url"] = static_url
    env.globals["languages"] = LANGUAGES
    nav: list[NavItem] = []
    for page in pages:
        app.router.add_routes(page.routes)
        nav.extend(getattr(page, "NAV", ()))
    app.router.add_static("/static", STATIC, name="static")

    async def services(app: web.Application) -> AsyncIterator[None]:
        engine = engine_of()
        app[CONSOLE] = ConsoleServices(
            engine=engine,
            clock=clock,
            staff=StaffService(engine, clock),
            throttle=LoginThrottle(
                engine,
                clock,
                max_failures=settings.console_login_max_failures,
                window=timedelta(seconds=settings.console_login_window_seconds),
                block=timedelta(seconds=settings.console_login_block_seconds),
            ),
            rules=SessionRules(lifetime=timedelta(hours=settings.console_session_hours)),
            nav=nav,
        )
        yield

    async def end_streams(app: web.Application) -> None:
        # open SSE streams would hold a graceful shutdown for its whole timeout
        for task in list(app[CONSOLE].streams):
            task.cancel()

    app.cleanup_ctx.append(services)
    app.on_shutdown.append(end_streams)
    return app


@web.middleware
async def console_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Per request: the signed-in staff member and the language; state-changing requests
    must carry the session's CSRF token; refusals are HTML pages, not the API's JSON."""
    if request.path.startswith(f"{PREFIX}/static/"):
        return await handler(request)
    services = console_of(request)
    session, staff, stale = await load_staff(request, services)
    request[STAFF_KEY] = staff
    language = staff.language if staff else session.get("lang", DEFAULT_LANGUAGE)
    token = i18n.LANGUAGE.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        if request.method not in SAFE_METHODS:
            if stale:
                return to_login(request)
            if not await csrf_ok(request, session):
                log.warning(
                    "console: %s %s refused, no valid CSRF token", request.method, request.path
                )
                return error_page(
                    request,
                    403,
                    i18n.gettext(
                        "Refused: this form has expired or did not come from the console. "
                        "Reload the page and try again."
                    ),
                )
        try:
            return await handler(request)
        except web.HTTPForbidden:
            return error_page(request, 403, i18n.gettext("Your role does not allow this action."))
        except web.HTTPNotFound:
            return error_page(request, 404, i18n.gettext("No such page."))
    finally:
        i18n.LANGUAGE.reset(token)
