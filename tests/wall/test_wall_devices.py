"""The wall's devices are the bridges' health reports (`hub.wall.devices`): a heartbeat
that reports devices shows on the wall with online, last seen, event lag and list
version (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.clock import FixedClock
from tests.support import ADMIN, T0, hub_client, seed

TOKEN = {"Authorization": "Bearer bridge-v1"}


async def test_reported_devices_show_on_the_wall(aiohttp_client: Any, db_url: str) -> None:
    clock = FixedClock(T0)
    client = await hub_client(
        aiohttp_client, db_url, clock=clock, bridge_tokens={"v1": "bridge-v1"}
    )
    await seed(client)
    seen = T0 - timedelta(seconds=3)
    resp = await client.post(
        "/api/bridge/venues/v1/heartbeat",
        json={
            "bridge": "b1",
            "at": T0.isoformat(),
            "devices": [
                {
                    "id": "t1",
                    "gate": "north",
                    "online": True,
                    "last_seen": seen.isoformat(),
                    "event_lag_s": 1.5,
                    "list_version": "v42",
                },
                {"id": "t2", "gate": "south", "online": False, "last_error": "no answer"},
            ],
        },
        headers=TOKEN,
    )
    assert resp.status == 200, await resp.text()
    clock.advance(seconds=30)
    resp = await client.get("/api/admin/wall", params={"venue": "v1"}, headers=ADMIN)
    assert resp.status == 200
    wall = await resp.json()
    devices = {d["id"]: d for d in wall["devices"]}
    assert devices["t1"]["online"] is True and devices["t1"]["event_lag_s"] == 1.5
    assert devices["t1"]["list_version"] == "v42" and devices["t1"]["last_seen"]
    assert devices["t2"]["online"] is False and devices["t2"]["offline_s"] == 30
    assert devices["t2"]["last_error"] == "no answer" and devices["t2"]["bridge"] == "b1"
    assert wall["bridges"][0]["online"] is True
