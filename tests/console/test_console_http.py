"""The console's HTTP rules, through the aiohttp test client: who gets in, the CSRF token
on every state-changing request, stale and forged cookies, role checks, login
throttling, escaping, the language switch and the SSE stream."""

from __future__ import annotations

import asyncio
import base64
import re
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import FixedClock
from hub.config import ConfigError
from hub.console.app import COOKIE, PAGES, STATIC, create_console
from hub.console.audit import recent
from hub.console.roles import Role
from hub.console.staff import StaffService
from hub.console.web import record_audit, remote_of, require_role, signed_in
from hub.storage.db import create_engine
from tests.console.kit import (
    PASSWORD,
    console_client,
    csrf_of,
    login_form,
    seed_staff,
    sign_in,
)
from tests.console.kit import signed_in as signed_in_as
from tests.support import T0, hub_of, settings


async def test_pages_need_a_sign_in_and_login_leads_back(aiohttp_client: Any, db_url: str) -> None:
    client = await console_client(aiohttp_client, db_url)
    resp = await client.get("/console/audit", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/console/login?next=/console/audit"

    token = await login_form(client)
    resp = await client.post(
        "/console/login",
        data={
            "username": "super",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/console/audit",
        },
        allow_redirects=False,
    )
    assert (resp.status, resp.headers["Location"]) == (303, "/console/audit")
    page = await client.get("/console/audit")
    assert page.status == 200
    assert "staff.login" in await page.text()
    # an outside address is never a place to go back to
    resp = await client.get("/console/login?next=//evil.example/", allow_redirects=False)
    assert resp.headers["Location"] == "/console/"


async def test_wrong_password_is_refused_without_saying_which(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    client = await console_client(aiohttp_client, sqlite_url.replace("hub.db", "c.db"))
    for name, password in (("admin", "wrong password"), ("nobody", PASSWORD)):
        resp = await sign_in(client, name, password)
        assert resp.status == 401
        assert "用户名或密码错误" in await resp.text()  # Chinese first


async def test_post_without_csrf_token_is_refused(aiohttp_client: Any, db_url: str) -> None:
    client = await console_client(aiohttp_client, db_url)
    # the login form itself needs the token of the session that showed it
    await login_form(client)
    resp = await client.post(
        "/console/login",
        data={"username": "admin", "password": PASSWORD},
        allow_redirects=False,
    )
    assert resp.status == 403
    assert "已拒绝" in await resp.text()

    token = await signed_in_as(client, "admin")
    for data, headers in (
        ({"language": "en"}, {}),  # no token at all
        ({"language": "en", "csrf_token": "forged"}, {}),
        ({"language": "en"}, {"X-CSRF-Token": "forged"}),
    ):
        resp = await client.post(
            "/console/language", data=data, headers=headers, allow_redirects=False
        )
        assert resp.status == 403, data
    staff = await StaffService(hub_of(client).engine, hub_of(client).clock).by_username("admin")
    assert staff is not None and staff.language == "zh_CN"  # nothing changed
    # the same request with the token (a form field, or htmx's header) goes through
    resp = await client.post(
        "/console/language",
        data={"language": "en"},
        headers={"X-CSRF-Token": token},
        allow_redirects=False,
    )
    assert resp.status == 303


async def test_forged_and_stale_session_cookies_go_back_to_login(
    aiohttp_client: Any, db_url: str
) -> None:
    clock = FixedClock(T0)
    client = await console_client(aiohttp_client, db_url, clock, console_session_hours=8)
    await signed_in_as(client, "oper")
    assert (await client.get("/console/", allow_redirects=False)).status == 200

    good = client.session.cookie_jar.filter_cookies(client.make_url("/console/"))[COOKIE].value
    forged = good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBB")
    client.session.cookie_jar.update_cookies({COOKIE: forged}, client.make_url("/console/"))
    resp = await client.get("/console/", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (303, "/console/login?next=/console/")

    # the real cookie again: fine, until the sign-in is older than its lifetime
    client.session.cookie_jar.update_cookies({COOKIE: good}, client.make_url("/console/"))
    clock.advance(hours=7, minutes=59)
    assert (await client.get("/console/", allow_redirects=False)).status == 200
    clock.advance(minutes=2)
    resp = await client.get("/console/", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/console/login")
    # a stale session's POST goes to the login page too, not through
    client.session.cookie_jar.update_cookies({COOKIE: good}, client.make_url("/console/"))
    resp = await client.post("/console/logout", data={}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/console/login"


async def test_disable_and_new_password_end_open_sessions(aiohttp_client: Any, db_url: str) -> None:
    client = await console_client(aiohttp_client, db_url)
    hub = hub_of(client)
    staff = StaffService(hub.engine, hub.clock)
    await signed_in_as(client, "oper")
    await staff.set_password("oper", "another password", actor="test")
    assert (await client.get("/console/", allow_redirects=False)).status == 303
    assert (await sign_in(client, "oper", PASSWORD)).status == 401
    assert (await sign_in(client, "oper", "another password")).status == 303
    assert (await client.get("/console/", allow_redirects=False)).status == 200
    await staff.disable("oper", actor="test")
    assert (await client.get("/console/", allow_redirects=False)).status == 303
    assert (await sign_in(client, "oper", "another password")).status == 401


async def test_a_viewer_cannot_read_the_audit_log(aiohttp_client: Any, db_url: str) -> None:
    client = await console_client(aiohttp_client, db_url)
    await signed_in_as(client, "watch")
    home = await client.get("/console/")
    assert 'href="/console/audit"' not in await home.text()  # not offered in the nav
    resp = await client.get("/console/audit")
    assert resp.status == 403
    assert "您的角色无权执行此操作" in await resp.text()


async def test_login_throttled_per_account_and_per_address(
    aiohttp_client: Any, db_url: str
) -> None:
    clock = FixedClock(T0)
    client = await console_client(
        aiohttp_client,
        db_url,
        clock,
        console_login_max_failures=3,
        console_login_block_seconds=600,
    )
    for _ in range(2):
        assert (await sign_in(client, "admin", "wrong password")).status == 401
    resp = await sign_in(client, "admin", "wrong password")
    assert resp.status == 429
    assert "登录失败次数过多" in await resp.text()
    # throttled: even the right password is not tried
    assert (await sign_in(client, "admin")).status == 429
    # this address is throttled for every account (3 failures from it)
    assert (await sign_in(client, "super")).status == 429
    entries = await recent(hub_of(client).engine)
    assert [e.action for e in entries[:1]] == ["staff.throttled"]

    clock.advance(seconds=601)
    assert (await sign_in(client, "admin")).status == 303


async def test_throttle_counts_per_account_across_addresses(db_url: str) -> None:
    from hub.console.throttle import LoginThrottle, account_key, address_key

    clock = FixedClock(T0)
    engine = create_engine(db_url)
    try:
        throttle = LoginThrottle(
            engine,
            clock,
            max_failures=3,
            window=timedelta(minutes=5),
            block=timedelta(minutes=10),
        )
        user = account_key("admin")
        for n in range(2):
            assert await throttle.failed(user, address_key(f"10.0.0.{n}")) is None
        clock.advance(minutes=6)  # the window passed: counting starts again
        for n in range(2):
            assert await throttle.failed(user, address_key(f"10.0.1.{n}")) is None
        until = await throttle.failed(user, address_key("10.0.2.1"))
        assert until == clock.now() + timedelta(minutes=10)
        assert await throttle.blocked_until(user) == until
        assert await throttle.blocked_until(address_key("10.0.2.1")) is None
        await throttle.succeeded(user)
        assert await throttle.blocked_until(user) is None
    finally:
        await engine.dispose()


async def test_untrusted_strings_are_escaped(aiohttp_client: Any, db_url: str) -> None:
    client = await console_client(aiohttp_client, db_url)
    hub = hub_of(client)
    evil = "<script>alert(1)</script>"
    await StaffService(hub.engine, hub.clock).add(
        "mallory", PASSWORD, "supervisor", display_name=evil, actor=evil
    )
    resp = await client.put(
        "/api/admin/venues/v1", json={"name": evil}, headers={"Authorization": "Bearer test-admin"}
    )
    assert resp.status in (200, 201)
    await signed_in_as(client, "mallory")
    for path in ("/console/", "/console/audit"):
        html = await (await client.get(path)).text()
        assert evil not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    # the login page echoes the username typed
    client.session.cookie_jar.clear()
    resp = await sign_in(client, evil, "not the password")
    assert resp.status == 401 and evil not in await resp.text()


async def test_language_switch_is_kept_on_the_account(aiohttp_client: Any, db_url: str) -> None:
    client = await console_client(aiohttp_client, db_url)
    token = await signed_in_as(client, "watch")
    assert "今日概况" in await (await client.get("/console/")).text()
    resp = await client.post(
        "/console/language",
        data={"language": "en", "csrf_token": token, "next": "/console/"},
        allow_redirects=False,
    )
    assert (resp.status, resp.headers["Location"]) == (303, "/console/")
    html = await (await client.get("/console/")).text()
    assert "Today" in html and "今日概况" not in html
    hub = hub_of(client)
    staff = await StaffService(hub.engine, hub.clock).by_username("watch")
    assert staff is not None and staff.language == "en"
    change = next(e for e in await recent(hub.engine) if e.action == "staff.language")
    assert change.actor == "watch" and change.target == "staff:watch"
    assert change.before is not None and change.after is not None
    assert (change.before["language"], change.after["language"]) == ("zh_CN", "en")
    # a new sign-in (another browser) starts in the account's language
    client.session.cookie_jar.clear()
    await signed_in_as(client, "watch")
    assert "Today" in await (await client.get("/console/")).text()


async def test_figures_stream_sends_a_fragment_at_once(aiohttp_client: Any, db_url: str) -> None:
    client = await console_client(aiohttp_client, db_url)
    await signed_in_as(client, "watch")
    resp = await client.get("/console/events/figures")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")

    async def first_event() -> str:
        data = b""
        while not re.search(rb"\r?\n\r?\n", data):
            data += await resp.content.readany()
        return data.decode()

    text = await asyncio.wait_for(first_event(), 30)  # sent at once; 30 s is only a bound
    assert re.match(r"event: figures\r?\ndata: <table", text), text[:80]
    assert "还没有景区" in text
    resp.close()
    # without a sign-in, no stream
    client.session.cookie_jar.clear()
    resp = await client.get("/console/events/figures", allow_redirects=False)
    assert resp.status == 303


# -- a page needing the operator role (the operations pages come later) -------------------

ops = web.RouteTableDef()


@ops.post("/ops/refund", name="console.test_refund")
@require_role(Role.operator)
async def _refund(request: web.Request) -> web.StreamResponse:
    from hub.console.web import console_of

    services = console_of(request)
    staff = signed_in(request)
    async with services.engine.begin() as conn:
        await record_audit(
            conn,
            services.clock.now(),
            actor=staff.username,
            action="order.refund",
            target="order:1",
            before={"state": "confirmed"},
            after={"state": "refunded"},
            remote=remote_of(request),
        )
    return web.Response(text="refunded")


class _OpsPage:
    routes = ops
    NAV = ()


async def _console_only(aiohttp_client: Any, engine: AsyncEngine) -> TestClient:
    """The console alone, with one more page (how a new page plugs in)."""
    clock = FixedClock(T0)
    app = web.Application()
    app.add_subapp(
        "/console",
        create_console(
            settings("sqlite+aiosqlite:///unused.db"),
            lambda: engine,
            clock,
            pages=(*PAGES, _OpsPage),  # type: ignore[arg-type]
        ),
    )
    await seed_staff(StaffService(engine, clock))
    return await aiohttp_client(app)


async def test_a_viewer_attempting_an_operator_action_is_refused(
    aiohttp_client: Any, db_url: str
) -> None:
    engine = create_engine(db_url)
    try:
        client = await _console_only(aiohttp_client, engine)
        token = await signed_in_as(client, "watch")
        resp = await client.post("/console/ops/refund", headers={"X-CSRF-Token": token})
        assert resp.status == 403
        client.session.cookie_jar.clear()
        token = await signed_in_as(client, "oper")
        resp = await client.post("/console/ops/refund", headers={"X-CSRF-Token": token})
        assert resp.status == 200 and await resp.text() == "refunded"
        (entry, *_) = await recent(engine)
        assert (entry.actor, entry.action, entry.before, entry.after) == (
            "oper",
            "order.refund",
            {"state": "confirmed"},
            {"state": "refunded"},
        )
        assert csrf_of(await (await client.get("/console/")).text()) == token
    finally:
        await engine.dispose()


async def test_vendored_files_are_served_from_the_package(
    aiohttp_client: Any, sqlite_url: str
) -> None:
    client = await console_client(aiohttp_client, sqlite_url)
    for vendored in ("htmx/htmx.min.js", "htmx-ext-sse/sse.min.js", "echarts/echarts.min.js"):
        path = STATIC / "vendor" / vendored
        assert (path.parent / "LICENSE").is_file(), vendored
        resp = await client.get(f"/console/static/vendor/{vendored}")
        assert resp.status == 200, vendored
        assert await resp.read() == path.read_bytes()
        assert COOKIE not in resp.cookies  # static files open no session
    html = await (await client.get("/console/login")).text()
    scripts = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert scripts and all(s.startswith("/console/static/") for s in scripts), scripts


def test_an_unusable_session_key_is_a_clear_configuration_error(sqlite_url: str) -> None:
    for key, problem in (
        ("not base64!", "is not base64"),
        (base64.b64encode(b"x" * 16).decode(), "decodes to 16 bytes"),
    ):
        with pytest.raises(ConfigError, match=f"TICKETHUB_CONSOLE_SESSION_KEY {problem}"):
            create_console(
                settings(sqlite_url, console_session_key=key), lambda: None, FixedClock(T0)
            )
