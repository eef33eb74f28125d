"""Who is asking, and may they: the signed-in staff member of a request, `require_role`,
and the CSRF token.

Sessions are aiohttp-session's encrypted cookie (Fernet): it holds the staff id, the
account's ``session_epoch`` at sign-in, when it was issued (by the hub's clock) and the
CSRF token. A cookie that does not decrypt (forged, another key) is an empty session; one
that decrypts but is older than ``TICKETHUB_CONSOLE_SESSION_HOURS``, or whose account was
disabled or got a new password since, is cleared — either way the person is sent back to
the login page.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web
from aiohttp_session import Session, get_session

from hub.console.roles import Role
from hub.console.staff import Staff

if TYPE_CHECKING:
    from hub.console.app import ConsoleServices

STAFF_KEY = web.RequestKey("console_staff", Staff | None)  # type: ignore[arg-type]
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class SessionRules:
    lifetime: timedelta


def current_staff(request: web.Request) -> Staff | None:
    """The signed-in staff member (set by the console middleware), or None."""
    staff = request.get(STAFF_KEY)
    return staff if isinstance(staff, Staff) else None


def signed_in(request: web.Request) -> Staff:
    """The signed-in staff member of a handler behind `require_role`."""
    staff = current_staff(request)
    if staff is None:  # pragma: no cover - require_role guarantees it
        raise web.HTTPUnauthorized()
    return staff


def login_url(request: web.Request) -> str:
    base = request.app.router["console.login"].url_for()
    back = request.path_qs if request.method in SAFE_METHODS else ""
    return f"{base}?next={quote(back)}" if back else str(base)


def to_login(request: web.Request) -> web.StreamResponse:
    """Back to the login page: a redirect, or for htmx an ``HX-Redirect`` (htmx would
    otherwise swap the login page into a fragment of the old one)."""
    url = login_url(request)
    if request.headers.get("HX-Request"):
        return web.Response(status=401, headers={"HX-Redirect": url})
    raise web.HTTPSeeOther(url)


def require_role(needed: Role) -> Callable[[Handler], Handler]:
    """The handler runs only for a signed-in staff member whose role is ``needed`` or
    higher (`Role.allows`); anyone else goes to the login page, and a signed-in person
    without the role gets 403::

        @routes.post("/orders/{order_id}/refund", name="console.refund")
        @require_role(Role.operator)
        async def refund(request: web.Request) -> web.StreamResponse: ...
    """

    def deco(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            staff = current_staff(request)
            if staff is None:
                return to_login(request)
            if not staff.role.allows(needed):
                raise web.HTTPForbidden(reason=f"needs the {needed.value} role")
            return await handler(request)

        guarded.required_role = needed  # type: ignore[attr-defined]
        return guarded

    return deco


def csrf_token(session: Session) -> str:
    """This session's CSRF token (made on first use). Forms carry it in a hidden
    ``csrf_token`` field; htmx sends it as ``X-CSRF-Token`` (the layout sets
    ``hx-headers`` on <body>)."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def csrf_ok(request: web.Request, session: Session) -> bool:
    """True when a state-changing request carries this session's token."""
    expected = session.get("csrf")
    if not isinstance(expected, str) or not expected:
        return False
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def load_staff(
    request: web.Request, services: ConsoleServices
) -> tuple[Session, Staff | None, bool]:
    """The session, its staff member if the sign-in still holds, and whether a sign-in
    was just found stale (then the session is emptied)."""
    session = await get_session(request)
    sid = session.get("sid")
    if sid is None:
        return session, None, False
    staff = await services.staff.get(int(sid)) if isinstance(sid, int) else None
    issued = session.get("at")
    now = services.clock.now().timestamp()
    fresh = (
        staff is not None
        and not staff.disabled
        and session.get("epoch") == staff.session_epoch
        and isinstance(issued, (int, float))
        and 0 <= now - issued <= services.rules.lifetime.total_seconds()
    )
    if not fresh:
        session.invalidate()
        return session, None, True
    return session, staff, False


def start_session(session: Session, staff: Staff, now: float) -> None:
    """Fill a NEW session (`aiohttp_session.new_session`: no fixation) for ``staff``."""
    session["sid"] = staff.id
    session["epoch"] = staff.session_epoch
    session["at"] = now
    session["lang"] = staff.language
    session["csrf"] = secrets.token_urlsafe(32)


def remote_of(request: web.Request) -> str:
    return request.remote or ""


def context_of(request: web.Request) -> dict[str, Any]:
    return {"staff": current_staff(request)}
