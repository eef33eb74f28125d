"""The flow wall page and its stream under /console (SQLite and PostgreSQL): a viewer
sees the venue's snapshot drawn into the page and gets the live snapshots behind the
staff session; anyone not signed in goes to the login page; an unknown venue is a 404
page; a synced scan reaches the console's stream."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from aiohttp.test_utils import TestClient

from hub.clock import FixedClock
from hub.wall.events import snapshots
from tests.console.kit import console_client, signed_in
from tests.support import T0, order, put, seed
from tests.wall.test_wall_counters import AT, scan, upload

WAIT = 20.0  # bound of the waits below (never reached when things work)
DATA = re.compile(r'<script type="application/json" id="wall-data">(.*?)</script>', re.S)


async def wall_hub(aiohttp_client: Any, db_url: str, clock: FixedClock) -> TestClient:
    client = await console_client(
        aiohttp_client,
        db_url,
        clock,
        bridge_tokens={"v1": "bridge-v1"},
        wall_poll_seconds=0.1,
        wall_min_interval_seconds=0.05,
    )
    await seed(client)
    return client


async def test_a_viewer_sees_the_wall_of_a_venue(aiohttp_client: Any, db_url: str) -> None:
    client = await wall_hub(aiohttp_client, db_url, FixedClock(T0))
    await put(client, "/api/admin/venues/v2", {"name": "西湖 <b>", "timezone": "Asia/Shanghai"})
    await signed_in(client, "watch")
    resp = await client.get("/console/wall")
    assert resp.status == 200
    html = await resp.text()
    m = DATA.search(html)
    assert m, "the page carries the snapshot"
    wall = json.loads(m.group(1))
    assert wall["venue"]["id"] == "v1" and wall["in_park"]["now"] == 0  # the first venue
    assert 'id="venue-picker"' in html and 'value="v2"' in html
    assert "西湖 &lt;b&gt;" in html and "西湖 <b>" not in html  # escaped in the picker
    assert "客流大屏" in html and "当前在园人数" in html  # Chinese first
    assert "/console/wall/stream?venue=v1" in html

    resp = await client.get("/console/wall", params={"venue": "v2"})
    assert resp.status == 200
    m = DATA.search(await resp.text())
    assert m and json.loads(m.group(1))["venue"]["id"] == "v2"
    assert (await client.get("/console/wall", params={"venue": "nowhere"})).status == 404
    resp = await client.get("/console/wall/stream", params={"venue": "nowhere"})
    assert resp.status == 404


async def test_not_signed_in_goes_to_the_login_page(aiohttp_client: Any, db_url: str) -> None:
    client = await wall_hub(aiohttp_client, db_url, FixedClock(T0))
    for path in ("/console/wall", "/console/wall/stream?venue=v1"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status in (302, 303), (path, resp.status)
        assert "/console/login" in resp.headers["Location"]


async def test_a_synced_scan_reaches_the_consoles_stream(aiohttp_client: Any, db_url: str) -> None:
    clock = FixedClock(T0)
    client = await wall_hub(aiohttp_client, db_url, clock)
    status, body = await order(client, "o1", quantity=2, confirm=True)
    assert status == 201, body
    ticket = body["order"]["tickets"][0]["id"]
    clock.set(AT)
    await signed_in(client, "watch")
    resp = await client.get("/console/wall/stream", params={"venue": "v1"})
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    events = snapshots(resp)
    async with asyncio.timeout(WAIT):
        first = await anext(events)
        assert first["in_park"]["now"] == 0 and first["slots"][0]["not_arrived"] == 2
        await upload(client, [scan("s1", ticket, AT)])
        async for wall in events:
            if wall["in_park"]["now"] == 1:
                break
    assert wall["gates"][0]["gate"] == "north" and wall["gates"][0]["buckets"][0]["entries"] == 1
    resp.close()


async def test_the_wall_in_english(aiohttp_client: Any, db_url: str) -> None:
    """Chinese first; a person who chose English gets the wall's words in English, the
    script's labels included."""
    client = await wall_hub(aiohttp_client, db_url, FixedClock(T0))
    token = await signed_in(client, "watch")
    resp = await client.post(
        "/console/language",
        data={"language": "en", "csrf_token": token},
        allow_redirects=False,
    )
    assert resp.status in (302, 303)
    html = await (await client.get("/console/wall")).text()
    assert "In park now" in html and "当前在园人数" not in html
    m = re.search(r'<script type="application/json" id="wall-labels">(.*?)</script>', html, re.S)
    assert m and json.loads(m.group(1))["not_arrived"] == "Not yet arrived"
