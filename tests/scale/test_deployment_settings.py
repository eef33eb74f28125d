"""Settings a deployment of N processes behind a load balancer needs (issue 17, item 7):
the pool size per process, and the client's address from X-Forwarded-For — believed
only from the trusted proxies."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from hub.api.app import HUB
from hub.api.middleware import forwarded_for
from hub.config import ConfigError
from hub.settings import Settings
from hub.storage.shared_limits import SHARED_LIMITS
from tests.support import hub_client


async def test_the_pool_size_is_a_setting(aiohttp_client: Any, sqlite_url: str) -> None:
    client = await hub_client(aiohttp_client, sqlite_url, db_pool_size=3)
    hub = client.server.app[HUB]
    assert hub.engine.pool.size() == 3
    assert client.server.app[SHARED_LIMITS].engine is hub.engine  # limits on the hub's DB


async def _remote(aiohttp_client: Any, trusted: list[str], xff: str | None) -> str:
    async def show(request: web.Request) -> web.Response:
        return web.Response(text=request.remote or "")

    app = web.Application(middlewares=[forwarded_for(trusted)])
    app.router.add_get("/", show)
    client = await aiohttp_client(app)
    resp = await client.get("/", headers={"X-Forwarded-For": xff} if xff else {})
    return await resp.text()


async def test_the_client_address_comes_from_a_trusted_proxy(aiohttp_client: Any) -> None:
    # HAProxy on this host appends the client; a spoofed entry before it is not believed
    assert await _remote(aiohttp_client, ["127.0.0.1"], "6.6.6.6, 203.0.113.9") == "203.0.113.9"
    # two proxies in a row (a CIDR of them): the first address that is not one of them
    got = await _remote(aiohttp_client, ["127.0.0.0/8", "10.0.0.0/8"], "203.0.113.9, 10.1.2.3")
    assert got == "203.0.113.9"


async def test_the_header_is_ignored_from_anyone_else(aiohttp_client: Any) -> None:
    assert await _remote(aiohttp_client, [], "203.0.113.9") == "127.0.0.1"
    assert await _remote(aiohttp_client, ["10.0.0.0/8"], "203.0.113.9") == "127.0.0.1"
    assert await _remote(aiohttp_client, ["127.0.0.1"], None) == "127.0.0.1"


def test_a_bad_proxy_address_is_a_clear_configuration_error() -> None:
    with pytest.raises(ConfigError, match=r"TRUSTED_PROXIES.*not an IP address"):
        Settings(trusted_proxies=["lb.example"])
    with pytest.raises(ConfigError, match="TICKETHUB_DB_POOL_SIZE"):
        Settings(db_pool_size=0)
