"""What the OTA channel test kits share beyond `hub.testing.channel_rig`: the test venue
seeded with one all-day cell per day (OTAs sell days, not slots), its stock read back
through the admin API, and gate decisions uploaded the way the venue bridge does — so a
channel's "ticket used" calls are tested through the hub's real redemption recording."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient

from tests.support import ADMIN, TOMORROW, seed

BRIDGE_SETTINGS: dict[str, Any] = {"bridge_tokens": {"v1": "bridge-v1"}}
"""Hub settings that let the venue bridge of ``v1`` upload (token ``bridge-v1``)."""
BRIDGE = {"Authorization": "Bearer bridge-v1"}


def day_seed(capacity: int) -> Callable[[TestClient], Awaitable[None]]:
    """The test venue, each day one cell (no slot) of `capacity`."""

    async def run(client: TestClient) -> None:
        await seed(client, capacity=capacity, slots=("",))

    return run


async def stock(client: TestClient) -> dict[str, int]:
    """Held and sold of tomorrow's all-day cell, as staff read it."""
    resp = await client.get(f"/api/admin/inventory?pool=main&date={TOMORROW}", headers=ADMIN)
    cell = next(c for c in (await resp.json())["cells"] if c["bucket"] == "" and c["slot"] == "")
    return {"held": cell["held"], "sold": cell["sold"]}


def gate_decision(
    rid: str, ticket_id: str, at: datetime, *, offline: bool = False
) -> dict[str, Any]:
    """One admission at the north gate's QR reader, as the bridge uploads it."""
    return {
        "id": rid,
        "ticket_id": ticket_id,
        "gate": "north",
        "device": "qr-1",
        "medium": "qr",
        "direction": "in",
        "at": at.isoformat(),
        "accepted": True,
        "offline": offline,
    }


async def upload(client: TestClient, *entries: dict[str, Any], times: int = 1) -> dict[str, Any]:
    """The bridge uploads `entries` (``times`` > 1: its retries of the same upload);
    returns the hub's last answer."""
    data: dict[str, Any] = {}
    for _ in range(times):
        resp = await client.post(
            "/api/bridge/venues/v1/redemptions",
            json={"bridge": "b1", "redemptions": list(entries)},
            headers=BRIDGE,
        )
        assert resp.status == 200, await resp.text()
        data = await resp.json()
    return data
