"""The hub's side of the emergency box office, on SQLite and PostgreSQL: staff's bad
input answered in their words, and bridge uploads that must create nothing (another
bridge's key, an uncertified or revoked key) or create once (racing replays)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.domain.credentials import generate_keypair
from tests.bridge.conftest import TOKEN
from tests.bridge.emergency_kit import (
    SLOT,
    allot,
    cells,
    certify_key,
    emergency_counts,
    signed_order,
    upload,
)
from tests.support import ADMIN, T0, hub_client, hub_of, seed

BRIDGE = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def hub(aiohttp_client: Any, db_url: str) -> TestClient:
    client = await hub_client(aiohttp_client, db_url, bridge_tokens={"v1": TOKEN})
    await seed(client)
    return client


async def test_staff_bad_input_gets_clear_errors(hub: TestClient) -> None:
    _, public = generate_keypair()
    for over, status, code in (
        ({"venue_id": "nowhere"}, 422, "UNKNOWN_VENUE"),
        ({"public_key": "A" * 44}, 422, "INVALID_PUBLIC_KEY"),  # 33 bytes: not a key
        ({"valid_days": 0}, 422, "INVALID_REQUEST"),
        ({"bridge_id": "no spaces"}, 422, "INVALID_REQUEST"),
    ):
        resp = await certify_key(hub, "b1", public, **over)
        body = await resp.json()
        assert (resp.status, body["code"]) == (status, code), (over, body)
    resp = await hub.post(
        "/api/admin/emergency/keys/revoke",
        json={"venue_id": "v1", "key_id": 130, "staff": "zhang", "reason": "?"},
        headers=ADMIN,
    )
    assert (resp.status, (await resp.json())["code"]) == (422, "UNKNOWN_KEY")
    resp = await hub.put(
        "/api/admin/emergency/allotments",
        json={
            "venue_id": "v1",
            "bridge_id": "b1",
            "pool": "nope",
            "date": "2026-11-23",
            "slot": SLOT,
            "quantity": 1,
        },
        headers=ADMIN,
    )
    assert (resp.status, (await resp.json())["code"]) == (422, "UNKNOWN_POOL")
    resp = await allot(hub, "b1", 11)  # the slot holds 10
    assert (resp.status, (await resp.json())["code"]) == (422, "NOT_ENOUGH_FREE_CAPACITY")
    resp = await hub.post(
        "/api/bridge/venues/v1/emergency/orders",
        json={"bridge": "b1", "orders": []},
        headers={"Authorization": "Bearer wrong"},
    )
    assert resp.status == 401


async def test_uploads_with_a_key_not_certified_for_that_bridge_create_nothing(
    hub: TestClient,
) -> None:
    private, public = generate_keypair()
    resp = await certify_key(hub, "b1", public)
    key_id = (await resp.json())["key_id"]
    assert key_id == 128
    assert (await (await certify_key(hub, "b1", public)).json())["key_id"] == 128  # retry safe
    await allot(hub, "b1", 5)
    stranger, _ = generate_keypair()
    results = await upload(
        hub,
        "b2",
        signed_order("b2-1", private, key_id),  # b1's key, claimed by b2
    )
    results += await upload(hub, "b1", signed_order("b1-x", private, 131))  # never certified
    results += await upload(hub, "b1", signed_order("b1-y", stranger, key_id))  # forged
    assert [(r["status"], r["code"]) for r in results] == [
        ("refused", "UNCERTIFIED_KEY"),
        ("refused", "UNCERTIFIED_KEY"),
        ("refused", "BAD_CREDENTIAL"),
    ]
    hub_of(hub).clock.advance(hours=2)  # type: ignore[attr-defined]
    resp = await hub.post(
        "/api/admin/emergency/keys/revoke",
        json={"venue_id": "v1", "key_id": key_id, "staff": "zhang", "reason": "stolen"},
        headers=ADMIN,
    )
    assert resp.status == 200
    late = await upload(
        hub, "b1", signed_order("b1-late", private, key_id, T0 + timedelta(hours=3))
    )
    assert late[0]["code"] == "REVOKED_KEY"
    early = await upload(
        hub, "b1", signed_order("b1-early", private, key_id, T0 + timedelta(hours=1))
    )
    assert early[0]["status"] == "created"  # sold before the revocation: a real sale
    assert await emergency_counts(hub) == (1, 1)


async def test_racing_replays_create_onesigned_order(hub: TestClient) -> None:
    private, public = generate_keypair()
    key_id = (await (await certify_key(hub, "b1", public)).json())["key_id"]
    await allot(hub, "b1", 5)
    order = signed_order("b1-race", private, key_id)
    answers = await asyncio.gather(*(upload(hub, "b1", order) for _ in range(4)))
    statuses = sorted(a[0]["status"] for a in answers)
    assert statuses == ["created", "duplicate", "duplicate", "duplicate"], answers
    assert await emergency_counts(hub) == (1, 1)
    assert (await cells(hub))["emergency:b1"]["sold"] == 1
