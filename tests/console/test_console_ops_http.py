"""The outbox, double-use and devices pages over HTTP, on both databases: who sees them,
who may act, and that each action is one transaction with its audit line."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.alerts.health import BridgeHealth, HeartbeatIn
from hub.console.audit import AUDIT
from hub.outbox.store import OutboxStore
from tests.console.kit import console_client, signed_in
from tests.console.ops_kit import conflict, dead_letter
from tests.support import hub_of, put


async def _audit(client: Any, action: str) -> list[Any]:
    async with hub_of(client).engine.connect() as conn:
        return list((await conn.execute(select(AUDIT).where(AUDIT.c.action == action))).all())


async def test_outbox_lists_backlog_and_dead_letters_and_retries_them(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await console_client(aiohttp_client, db_url)
    hub = hub_of(client)
    first = await dead_letter(hub, "ctrip", "HTTP 500 <b>boom</b>")
    second = await dead_letter(hub, "meituan", "timeout")
    token = await signed_in(client, "watch")
    page = await (await client.get("/console/outbox")).text()
    assert 'data-partner="ctrip"' in page and 'data-partner="meituan"' in page
    assert "HTTP 500 &lt;b&gt;boom&lt;/b&gt;" in page  # the partner's error, escaped
    assert 'id="retry-all"' not in page  # a viewer sees, cannot retry
    resp = await client.post("/console/outbox/retry", data={"csrf_token": token, "id": first})
    assert resp.status == 403
    assert (await OutboxStore.get(hub.engine, first)).state == "dead"  # type: ignore[union-attr]

    token = await signed_in(client, "oper")
    resp = await client.post("/console/outbox/retry", data={"id": str(first)})
    assert resp.status == 403  # no CSRF token
    resp = await client.post(
        "/console/outbox/retry", data={"csrf_token": token, "id": str(first)}, allow_redirects=False
    )
    assert resp.status == 303 and resp.headers["Location"].endswith("?retried=1")
    again = await OutboxStore.get(hub.engine, first)
    assert again is not None and again.state == "pending" and again.attempts == 1
    assert (await OutboxStore.get(hub.engine, second)).state == "dead"  # type: ignore[union-attr]
    [line] = await _audit(client, "outbox.retry")
    assert (line.actor, line.target) == ("oper", f"outbox:{first}")
    assert line.before["last_error"] == "HTTP 500 <b>boom</b>" and line.after == {
        "state": "pending"
    }

    resp = await client.post("/console/outbox/retry", data={"csrf_token": token, "all": "1"})
    assert resp.status == 200 and 'id="retried"' in await resp.text()
    assert (await OutboxStore.get(hub.engine, second)).state == "pending"  # type: ignore[union-attr]
    assert len(await _audit(client, "outbox.retry")) == 2
    resp = await client.post("/console/outbox/retry", data={"csrf_token": token})
    assert resp.status == 422


async def test_double_use_is_listed_and_a_supervisor_resolves_it(
    aiohttp_client: Any, db_url: str
) -> None:
    client = await console_client(aiohttp_client, db_url)
    await put(client, "/api/admin/venues/v1", {"name": "Test Mountain"})
    hub = hub_of(client)
    await conflict(hub, "r-1", gate="<i>east</i>")
    await conflict(hub, "r-2")
    token = await signed_in(client, "oper")
    page = await (await client.get("/console/conflicts")).text()
    assert 'data-id="r-1"' in page and 'data-id="r-2"' in page
    assert "&lt;i&gt;east&lt;/i&gt;" in page and "两个离线网关" in page
    resp = await client.post(
        "/console/conflicts/r-1/resolve", data={"csrf_token": token, "note": "seen"}
    )
    assert resp.status == 403  # operators may not

    token = await signed_in(client, "super")
    url = "/console/conflicts/r-1/resolve"
    assert (await client.post(url, data={"note": "x"})).status == 403  # no CSRF token
    resp = await client.post(url, data={"csrf_token": token, "note": " "})
    assert resp.status == 422
    resp = await client.post(
        url,
        data={"csrf_token": token, "note": "同一家庭两人共用一票，已补票"},
        allow_redirects=False,
    )
    assert resp.status == 303
    [line] = await _audit(client, "conflict.resolve")
    assert (line.actor, line.target) == ("super", "redemption:r-1")
    assert line.before["conflict"] == "ENTRIES_EXHAUSTED"
    assert line.after == {"resolved": True, "note": "同一家庭两人共用一票，已补票"}
    page = await (await client.get("/console/conflicts?open=1")).text()
    assert 'data-id="r-1"' not in page and 'data-id="r-2"' in page
    page = await (await client.get("/console/conflicts")).text()
    assert "同一家庭两人共用一票，已补票" in page
    resp = await client.post(url, data={"csrf_token": token, "note": "second opinion"})
    assert resp.status == 409  # the first note stands
    assert len(await _audit(client, "conflict.resolve")) == 1
    resp = await client.post(
        "/console/conflicts/no-such/resolve", data={"csrf_token": token, "note": "x"}
    )
    assert resp.status == 404


async def test_devices_of_every_bridge(aiohttp_client: Any, db_url: str) -> None:
    client = await console_client(aiohttp_client, db_url)
    hub = hub_of(client)
    health = BridgeHealth(hub.engine)
    for venue, devices in (
        ("v1", [{"id": "gate-1", "gate": "east", "online": True, "list_version": "v42"}]),
        (
            "v2",
            [
                {"id": "face-9", "vendor": "hik", "online": False, "last_error": "<timeout>"},
                {"id": "qr-3", "event_lag_s": 2.5},
            ],
        ),
    ):
        body = HeartbeatIn(bridge=f"b-{venue}", at=hub.clock.now(), devices=devices)
        assert await health.report(venue, body, hub.clock.now())
    await signed_in(client, "watch")
    resp = await client.get("/console/devices")
    assert resp.status == 200
    page = await resp.text()
    assert 'data-venue="v1"' in page and 'data-venue="v2"' in page
    assert 'data-device="gate-1"' in page and "v42" in page and "在线" in page
    assert 'data-device="face-9"' in page and "&lt;timeout&gt;" in page and "离线" in page
    assert "2.5 s" in page
    one = await (await client.get("/console/devices?venue=v2")).text()
    assert 'data-venue="v1"' not in one and 'data-venue="v2"' in one


async def test_operations_pages_need_a_sign_in(aiohttp_client: Any, db_url: str) -> None:
    client = await console_client(aiohttp_client, db_url)
    for path in ("/console/orders", "/console/outbox", "/console/conflicts", "/console/devices"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/console/login"), path
