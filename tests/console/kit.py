"""Shared set-up of the console tests: a hub with seeded staff accounts, and signing in
through the real login form (CSRF token included), as a browser would."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from hub.clock import FixedClock
from hub.console.roles import Role
from hub.console.staff import Staff, StaffService
from tests.support import T0, hub_client, hub_of

PASSWORD = "correct horse battery"
#: username → role of the accounts `console_hub` seeds (all with `PASSWORD`)
ACCOUNTS = {
    "admin": Role.admin,
    "super": Role.supervisor,
    "oper": Role.operator,
    "watch": Role.viewer,
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def seed_staff(service: StaffService, **names: Any) -> dict[str, Staff]:
    accounts = {**ACCOUNTS, **names}
    return {
        name: await service.add(name, PASSWORD, Role(role).value, actor="test")
        for name, role in accounts.items()
    }


async def console_client(
    aiohttp_client: Any, db_url: str, clock: FixedClock | None = None, **over: Any
) -> TestClient:
    """A hub (the test's clock) whose database has the `ACCOUNTS`."""
    client = await hub_client(aiohttp_client, db_url, clock=clock or FixedClock(T0), **over)
    hub = hub_of(client)
    await seed_staff(StaffService(hub.engine, hub.clock))
    return client


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "the page carries a CSRF token"
    return m.group(1)


async def login_form(client: TestClient) -> str:
    """Open the login page; its CSRF token."""
    resp = await client.get("/console/login")
    assert resp.status == 200
    return csrf_of(await resp.text())


async def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    token = await login_form(client)
    return await client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token},
        allow_redirects=False,
    )


async def signed_in(client: TestClient, username: str) -> str:
    """Sign in as ``username``; the session's CSRF token (read from the landing page)."""
    resp = await sign_in(client, username)
    assert resp.status == 303, await resp.text()
    page = await client.get("/console/")
    assert page.status == 200
    return csrf_of(await page.text())
