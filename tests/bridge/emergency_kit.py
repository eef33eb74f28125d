"""A real hub (in-process, the `db_url` database) behind a link the test cuts, and real
bridges synced to it: what the emergency box office tests share."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hardware_bridge.runtime import Bridge
from hardware_bridge.transport import HubUnavailable
from hub.clock import FixedClock
from hub.domain.credentials import CredentialClaims, CredentialSigner, generate_keypair
from hub.domain.gate import GateDecision, Medium, Scan
from hub.storage.tables import OrderRow, TicketRow
from hub.testing.netfault import LinkProxy
from tests.bridge.conftest import AT, TOKEN, LoopDriver, bridge_settings
from tests.support import ADMIN, T0, TOMORROW, hub_of

TZ = ZoneInfo("Asia/Shanghai")
DAY = TOMORROW  # the bridges' AT is 10:00 on this day
SLOT = "13:00-15:00"


@asynccontextmanager
async def running_bridge(
    url: str, db: Path, bridge_id: str, clock: FixedClock
) -> AsyncIterator[Bridge]:
    async with aiohttp.ClientSession() as http:
        b = Bridge(
            # hub_timeout bounds a hung call only: the cut link refuses or drops at once,
            # and 2 s timed a healthy call out under two suites on two cores
            bridge_settings(url, db, bridge_id=bridge_id, hub_timeout=30.0),
            http,
            clock=clock,
            drivers={"loop": LoopDriver({"10.0.0.5": f"LOOP-{bridge_id}"})},
        )
        await b.start_drivers()
        await b.start(sync=False)  # rounds by hand
        await b.link.pull_config()
        await b.link.sync_once()
        if not b.store.db.execute("SELECT 1 FROM devices").fetchone():  # a restart keeps it
            await b.host.add_device("loop", device_id=f"{bridge_id}-gate", address="10.0.0.5")
        try:
            yield b
        finally:
            await b.stop()
            b.close()


async def cut(proxy: LinkProxy, *bridges: Bridge) -> None:
    """The link is gone: each bridge's next round fails and it turns offline."""
    proxy.set_mode("down")
    for b in bridges:
        with suppress(HubUnavailable):
            await b.link.sync_once()
        assert not b.link.state.online


async def certify(hub: TestClient, bridge: Bridge, days: int = 7) -> dict[str, Any]:
    resp = await hub.post(
        "/api/admin/emergency/keys",
        json={
            "venue_id": "v1",
            "bridge_id": bridge.settings.bridge_id,
            "public_key": bridge.boxoffice.public_key,
            "valid_days": days,
            "staff": "zhang",
        },
        headers=ADMIN,
    )
    body = await resp.json()
    assert resp.status == 200, body
    return body


async def allot(hub: TestClient, bridge_id: str, quantity: int, slot: str = SLOT) -> Any:
    return await hub.put(
        "/api/admin/emergency/allotments",
        json={
            "venue_id": "v1",
            "bridge_id": bridge_id,
            "pool": "main",
            "date": DAY.isoformat(),
            "slot": slot,
            "quantity": quantity,
        },
        headers=ADMIN,
    )


async def scan(bridge: Bridge, credential: str) -> GateDecision:
    device = f"{bridge.settings.bridge_id}-gate"
    return await bridge.host.decide(Scan(device_id=device, medium=Medium.QR, value=credential))


def sell(bridge: Bridge, quantity: int = 1, **over: Any) -> Any:
    args: dict[str, Any] = {
        "product_id": "adult",
        "day": DAY,
        "slot": SLOT,
        "quantity": quantity,
        "payment": "cash",
        "payment_ref": "",
        "staff": "li",
        "now": bridge.clock.now(),
    }
    args.update(over)
    return bridge.boxoffice.sell(**args)


async def emergency_counts(hub: TestClient) -> tuple[int, int]:
    """(orders, tickets) of channel emergency at the hub."""
    async with hub_of(hub).engine.connect() as conn:
        orders = (
            await conn.execute(
                select(func.count()).select_from(OrderRow).where(OrderRow.channel == "emergency")
            )
        ).scalar_one()
        tickets = (
            await conn.execute(
                select(func.count())
                .select_from(TicketRow)
                .join(OrderRow, OrderRow.id == TicketRow.order_id)
                .where(OrderRow.channel == "emergency")
            )
        ).scalar_one()
    return int(orders), int(tickets)


async def cells(hub: TestClient, day: date = DAY, slot: str = SLOT) -> dict[str, dict[str, int]]:
    resp = await hub.get(
        "/api/admin/inventory", params={"pool": "main", "date": day.isoformat()}, headers=ADMIN
    )
    body = await resp.json()
    return {c["bucket"]: c for c in body["cells"] if c["slot"] == slot}


def bridge_clock(hours_after: float = 0.0) -> FixedClock:
    return FixedClock(AT + timedelta(hours=hours_after))


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=TZ)


async def certify_key(hub: TestClient, bridge: str, public: str, **over: Any) -> Any:
    body = {"venue_id": "v1", "bridge_id": bridge, "public_key": public, "staff": "zhang"}
    return await hub.post("/api/admin/emergency/keys", json={**body, **over}, headers=ADMIN)


def signed_order(
    order_id: str,
    private: str,
    key_id: int,
    sold_at: datetime = T0,
    quantity: int = 1,
    slot: str = SLOT,
) -> dict[str, Any]:
    """One emergency order of `quantity` adult tickets as a bridge uploads it, each
    credential signed with the bridge's key."""
    start = datetime(2026, 11, 22, 16, 0, tzinfo=T0.tzinfo)  # 2026-11-23 00:00 +08:00
    tickets = []
    for i in range(quantity):
        seed = order_id if i == 0 else f"{order_id}/{i}"
        ticket_id = hashlib.blake2b(seed.encode(), digest_size=8).hexdigest()
        credential = CredentialSigner(private, key_id).sign(
            CredentialClaims(
                ticket_id=ticket_id,
                product_id="adult",
                valid_from=start,
                valid_until=start + timedelta(days=1),
                entries_allowed=1,
                key_id=key_id,
            )
        )
        tickets.append({"id": ticket_id, "credential": credential})
    return {
        "id": order_id,
        "product_id": "adult",
        "travel_date": DAY.isoformat(),
        "slot": slot,
        "unit_price": 10000,
        "amount": 10000 * quantity,
        "payment": "cash",
        "sold_at": sold_at.isoformat(),
        "tickets": tickets,
    }


async def upload(hub: TestClient, bridge_id: str, *orders: dict[str, Any]) -> Any:
    resp = await hub.post(
        "/api/bridge/venues/v1/emergency/orders",
        json={"bridge": bridge_id, "orders": list(orders)},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    body = await resp.json()
    assert resp.status == 200, body
    return body["results"]


async def set_day_cap(
    client: TestClient, capacity: int, product_id: str | None = None
) -> aiohttp.ClientResponse:
    """Set the venue's (or ``product_id``'s) whole-day cap for `DAY`."""
    body: dict[str, Any] = {
        "date_from": DAY.isoformat(),
        "date_to": DAY.isoformat(),
        "capacity": capacity,
    }
    if product_id:
        body["product_id"] = product_id
    return await client.put("/api/admin/venues/v1/day-cap", json=body, headers=ADMIN)


async def day_caps(client: TestClient) -> dict[str, dict[str, int]]:
    """`DAY`'s whole-day caps by pool, as the admin API shows them."""
    resp = await client.get(f"/api/admin/venues/v1/day-cap?date={DAY}", headers=ADMIN)
    assert resp.status == 200
    return {c["pool"]: c for c in (await resp.json())["caps"]}


async def bridge_key(client: TestClient) -> tuple[str, int]:
    """A new key for bridge ``b1``, certified by the hub: (private key, key id)."""
    private, public = generate_keypair()
    resp = await certify_key(client, "b1", public)
    assert resp.status == 200, await resp.text()
    return private, int((await resp.json())["key_id"])
