"""Building a hub for tests and seeding it through the admin API, as staff would."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from hub.api.app import HUB, Hub, create_app
from hub.clock import Clock, FixedClock
from hub.domain.rules.idcard import check_char
from hub.settings import Settings

ADMIN = {"Authorization": "Bearer test-admin"}
BOX = {"Authorization": "Bearer test-box"}
# How long a test waits for work done in the background (an outbox delivery, a partner's
# pull) before calling it hung. Only a bound: a passing test goes on the moment its
# condition holds, so a wide bound costs nothing, and a narrow one failed healthy runs
# when two suites shared two cores (.ci/paired runs 5-8 times slower than a quiet machine).
BACKGROUND_BOUND = 120.0
# 2026-11-22 10:00 in Asia/Shanghai
T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
TOMORROW = date(2026, 11, 23)

PART_REFUNDABLE_COMBO = {
    "venue_id": "v1",
    "name": "Entry + cable car",
    "kind": "combo",
    "components": [{"product_id": "adult"}, {"product_id": "cable", "refund_amount": 4000}],
    "prices": [{"amount": 14000}],
    "parts_refundable": True,
}
"""The seed's combo (``adult`` at the main gate + ``cable``) with the cable car's share
refundable: the combo-part refund tests of every channel put it over ``combo``."""


def settings(db_url: str, **over: Any) -> Settings:
    base: dict[str, Any] = {
        "database_url": db_url,
        "admin_token": "test-admin",
        "boxoffice_token": "test-box",
        "outbox_workers": 0,
        "expiry_sweep_seconds": 3600,
        "reconcile_every_seconds": 0,  # tests run the daily reconciliation by hand
        "stock_push_seconds": 60,  # tests drive the stock pusher (`hub.stock.run_once`)
    }
    return Settings(**{**base, **over})


async def hub_client(
    aiohttp_client: Any, db_url: str, *, clock: Clock | None = None, **over: Any
) -> TestClient:
    app = create_app(settings(db_url, **over), clock=clock or FixedClock(T0))
    return await aiohttp_client(app)


def hub_of(client: TestClient) -> Hub:
    return client.app[HUB]


def id_number(birth: str = "19900307", seq: int = 123, region: str = "110101") -> str:
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + check_char(first17)


async def put(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.put(path, json=body, headers=ADMIN)
    data = await resp.json()
    assert resp.status in (200, 201), (path, resp.status, data)
    return data


async def seed(
    client: TestClient,
    *,
    capacity: int = 10,
    slots: tuple[str, ...] = ("09:00-11:00", "13:00-15:00"),
    days: int = 3,
    rules: dict[str, Any] | None = None,
) -> None:
    """A venue with an adult ticket (pool `main`), a cable car (pool `cable`), a combo of
    both, and a real-name ticket limited to one per ID per day."""
    await put(client, "/api/admin/venues/v1", {"name": "Test Mountain"})
    price = [{"amount": 10000}]
    await put(
        client,
        "/api/admin/products/adult",
        {"venue_id": "v1", "name": "Adult", "pool": "main", "prices": price, "rules": rules or {}},
    )
    await put(
        client,
        "/api/admin/products/cable",
        {"venue_id": "v1", "name": "Cable car", "pool": "cable", "prices": [{"amount": 5000}]},
    )
    await put(
        client,
        "/api/admin/products/combo",
        {
            "venue_id": "v1",
            "name": "Entry + cable car",
            "kind": "combo",
            "components": [{"product_id": "adult"}, {"product_id": "cable"}],
            "prices": [{"amount": 14000}],
        },
    )
    await put(
        client,
        "/api/admin/products/realname",
        {
            "venue_id": "v1",
            "name": "Real-name",
            "pool": "main",
            "prices": price,
            "rules": {
                "sale": [
                    {"check": "real_name"},
                    {"check": "per_id_daily_limit", "limit": 1, "scope": "venue"},
                ]
            },
        },
    )
    last = TOMORROW + timedelta(days=days - 1)
    for pool in ("main", "cable"):
        await put(
            client,
            "/api/admin/inventory",
            {
                "pool": pool,
                "date_from": TOMORROW.isoformat(),
                "date_to": last.isoformat(),
                "slots": [{"code": s, "capacity": capacity} for s in slots],
            },
        )


def order_body(product: str = "adult", quantity: int = 1, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "travel_date": TOMORROW.isoformat(),
        "slot": "09:00-11:00",
        "lines": [{"product_id": product, "quantity": quantity}],
    }
    body.update(over)
    return body


async def order(client: TestClient, key: str, **over: Any) -> tuple[int, dict[str, Any]]:
    body = order_body(**over)
    resp = await client.post(
        "/api/boxoffice/orders", json=body, headers={**BOX, "Idempotency-Key": key}
    )
    return resp.status, await resp.json()


async def put_group_tour(client: TestClient, sale: list[dict[str, Any]], **rules: Any) -> None:
    """A real-name group product `tour` (pool `main`, 60.00 a head) with these sale rules."""
    await put(
        client,
        "/api/admin/products/tour",
        {
            "venue_id": "v1",
            "name": "Group tour",
            "kind": "group",
            "pool": "main",
            "prices": [{"amount": 6000}],
            "rules": {"sale": sale, **rules},
        },
    )


def bench_json(*args: str) -> dict[str, Any]:
    """Run ``tickethub bench ARGS`` in a child process; it must exit 0 and print exactly
    one line, its JSON result (figures are for people: tests check shape and invariants)."""
    proc = subprocess.run(
        [sys.executable, "-m", "hub", "bench", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stdout
    result: dict[str, Any] = json.loads(lines[0])
    return result
