"""The wall's live stream, on SQLite and PostgreSQL: a scan synced to the hub reaches an
open stream as a new snapshot with the new in-park figure — from this process's upload
and from an upload to another hub instance on the same database; a stream that goes
away stops its venue's builder."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from hub.api.app import create_app
from hub.clock import FixedClock
from hub.storage.db import reader
from hub.wall import snapshot
from hub.wall.events import snapshots
from hub.wall.stream import WallFeed
from tests.support import ADMIN, T0, hub_of, order, seed, settings
from tests.wall.test_wall_counters import AT, scan, upload

WAIT = 20.0  # bound of every wait below (never reached when things work)


async def instance(aiohttp_client: Any, db_url: str, clock: FixedClock) -> TestClient:
    app = create_app(
        settings(
            db_url,
            bridge_tokens={"v1": "bridge-v1"},
            wall_poll_seconds=0.1,
            wall_min_interval_seconds=0.05,
        ),
        clock=clock,
    )
    return await aiohttp_client(app)


async def sold_tickets(client: TestClient, n: int) -> list[str]:
    status, body = await order(client, "o1", quantity=n, confirm=True)
    assert status == 201, body
    return [t["id"] for t in body["order"]["tickets"]]


async def stream(client: TestClient) -> AsyncIterator[dict[str, Any]]:
    resp = await client.get("/api/admin/wall/stream", params={"venue": "v1"}, headers=ADMIN)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    return snapshots(resp)


async def until_in_park(events: AsyncIterator[dict[str, Any]], n: int) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        async for wall in events:
            if wall["in_park"]["now"] == n:
                return wall
    raise AssertionError("the stream ended")


async def test_a_synced_scan_reaches_the_stream(aiohttp_client: Any, db_url: str) -> None:
    clock = FixedClock(T0)
    client = await instance(aiohttp_client, db_url, clock)
    await seed(client)
    tickets = await sold_tickets(client, 2)
    clock.set(AT)
    events = await stream(client)
    first = await until_in_park(events, 0)  # the wall at once, before anything happened
    assert first["venue"]["id"] == "v1" and first["slots"][0]["not_arrived"] == 2

    await upload(client, [scan("s1", tickets[0], AT)])
    wall = await until_in_park(events, 1)
    assert wall["in_park"]["entries"] == 1
    assert wall["slots"][0]["arrived"] == 1 and wall["slots"][0]["not_arrived"] == 1
    assert wall["gates"][0]["gate"] == "north"

    await upload(client, [scan("s2", tickets[1], AT, gate="south")])
    assert (await until_in_park(events, 2))["in_park"]["entries"] == 2


async def test_a_scan_written_by_another_hub_reaches_the_stream(
    aiohttp_client: Any, db_url: str
) -> None:
    """Two hub instances on one database: the wall open on the first hears of an upload
    the second recorded (its version check, not an in-process notice)."""
    clock = FixedClock(T0)
    watching = await instance(aiohttp_client, db_url, clock)
    await seed(watching)
    tickets = await sold_tickets(watching, 1)
    other = await instance(aiohttp_client, db_url, clock)
    clock.set(AT)
    events = await stream(watching)
    await until_in_park(events, 0)
    await upload(other, [scan("s1", tickets[0], AT + timedelta(minutes=1))])
    wall = await until_in_park(events, 1)
    assert wall["gates"][0]["entries"] == 1


async def test_a_closed_stream_stops_its_builder(aiohttp_client: Any, db_url: str) -> None:
    clock = FixedClock(T0)
    client = await instance(aiohttp_client, db_url, clock)
    await seed(client)
    resp = await client.get("/api/admin/wall/stream", params={"venue": "v1"}, headers=ADMIN)
    events = snapshots(resp)
    async with asyncio.timeout(WAIT):
        await anext(events)
    feed = hub_of(client).wall
    assert feed.watched == {"v1": 1}
    resp.close()
    await upload(client, [scan("s1", "T-NONE", AT)])  # a change: the stream finds it gone
    async with asyncio.timeout(WAIT):
        while feed.watched:
            await asyncio.sleep(0.01)

    for params, status in (({}, 400), ({"venue": "nowhere"}, 404)):
        resp = await client.get("/api/admin/wall/stream", params=params, headers=ADMIN)
        assert resp.status == status, await resp.text()
    assert feed.watched == {}
    resp = await client.get("/api/admin/wall/stream", params={"venue": "v1"})
    assert resp.status == 401


async def test_stopping_the_hub_ends_open_streams(aiohttp_client: Any, db_url: str) -> None:
    """An open stream would hold the server's graceful shutdown until its timeout (60 s)."""
    client = await instance(aiohttp_client, db_url, FixedClock(T0))
    await seed(client)
    events = await stream(client)
    async with asyncio.timeout(WAIT):
        await anext(events)
        await client.server.close()
    assert hub_of(client).wall.watched == {}


async def test_walls_opening_together_share_one_build_and_one_encoding(
    aiohttp_client: Any, db_url: str
) -> None:
    """Ten walls opening at once (a restart in the middle of a rush) cost one snapshot
    build, not ten; each publish is encoded once and every stream gets the same bytes,
    as one whole server-sent event."""
    clock = FixedClock(T0)
    client = await instance(aiohttp_client, db_url, clock)
    await seed(client)
    tickets = await sold_tickets(client, 1)
    clock.set(AT)
    builds = 0

    async def devices(conn: Any, venue_id: str) -> list[dict[str, Any]]:
        nonlocal builds
        builds += 1  # `snapshot.build` reads the devices once per build
        return []

    # no version polling here: only `touch` makes this feed look again
    feed = WallFeed(hub_of(client).wall.engine, clock.now, poll_seconds=3600, min_interval=0)
    feed.devices = devices
    async with contextlib.AsyncExitStack() as stack:
        async with asyncio.timeout(WAIT):
            subs = await asyncio.gather(
                *(stack.enter_async_context(feed.subscribe("v1")) for _ in range(10))
            )
            for sub in subs:
                assert sub.take()["in_park"]["now"] == 0
        assert builds == 1
        first = subs[0].frame
        assert first.startswith(b"id: 1\nevent: snapshot\ndata: {") and first.endswith(b"}\n\n")
        assert all(sub.frame is first for sub in subs)

        await upload(client, [scan("s1", tickets[0], AT)])
        feed.touch("v1")
        async with asyncio.timeout(WAIT):
            walls = [await sub.next() for sub in subs]
        assert [w["in_park"]["now"] for w in walls] == [1] * 10
        assert builds == 2
        assert subs[0].frame.startswith(b"id: 2\n")
        assert all(sub.frame is subs[0].frame for sub in subs)
    assert feed.watched == {}


async def test_the_version_check_is_built_once_and_sees_a_scan(
    aiohttp_client: Any, db_url: str
) -> None:
    """The builder runs `snapshot.version` twice a second per watched venue: its
    statement is built once (venue and day bound per call) and still moves with a scan."""
    clock = FixedClock(T0)
    client = await instance(aiohttp_client, db_url, clock)
    await seed(client)
    tickets = await sold_tickets(client, 1)
    engine = hub_of(client).wall.engine

    async def check() -> tuple[Any, ...] | None:
        async with reader(engine).connect() as conn:
            found = await snapshot.venue_day(conn, "v1", AT)
            assert found is not None
            return await snapshot.version(conn, "v1", found[1])

    before = await check()
    assert before is not None
    await upload(client, [scan("s1", tickets[0], AT)])
    after = await check()
    assert after is not None and after != before
    assert after[3] == (before[3] or 0) + 1  # the day's entries (no row before: None)
    async with reader(engine).connect() as conn:
        assert await snapshot.version(conn, "nowhere", AT.date()) is None
    assert snapshot.version_statement() is snapshot.version_statement()
