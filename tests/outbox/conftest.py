"""Outbox fixtures: the partner server, an HTTP session, a fresh schema on each
database, and a clock the tests move."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from outbox_kit import T0, PartnerServer
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import FixedClock
from hub.storage.db import create_all, create_engine


@pytest.fixture
async def partner() -> AsyncIterator[PartnerServer]:
    server = PartnerServer()
    app = web.Application()
    app.router.add_post("/call", server.handle)
    # handler_cancellation: a client that gives up (timeout) ends the hanging handler.
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}/call"
    try:
        yield server
    finally:
        server.release()
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    await create_all(eng)
    try:
        yield eng
    finally:
        await eng.dispose()
