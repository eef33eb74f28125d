"""The demo venue, seeded through the admin HTTP API as an operator's script would.

A 黄山-style mountain scenic area: timed entry in two-hour slots, a small sunrise slot on
the busy day (tomorrow) that the box-office burst sells out, a cable car with its own
capacity, and the ticket types such a venue actually sells — adult, child and senior
(eligibility read from the ID number), a real-name ticket limited to one per ID per day,
an entry + cable-car combo drawing from two pools at once, and a group ticket with a
minimum size. Ctrip holds an allotment of the late-morning slot.
"""

from __future__ import annotations

from typing import Any

from sandbox.demo.context import DemoContext

VENUE = "huangshan"
VENUE_NAME = "黄山风景区（演示）"
TIMEZONE = "Asia/Shanghai"

MAIN = "main"
CABLE = "cablecar"
SUNRISE = "06:00-07:00"  # only on the busy day, small: sells out in the burst
SUNRISE_CAPACITY = 12
SLOTS: tuple[tuple[str, int], ...] = (
    ("08:00-10:00", 300),
    ("10:00-12:00", 300),
    ("12:00-14:00", 250),
    ("14:00-16:00", 200),
)
CABLE_SLOTS: tuple[tuple[str, int], ...] = tuple((code, 120) for code, _ in SLOTS)
ALLOTMENT_CHANNEL = "ctrip"
ALLOTMENT_SLOT = "10:00-12:00"
ALLOTMENT = 40

#: A booking window every product shares: up to 30 days ahead, never in the past.
BOOKING = {"check": "booking_window", "max_advance_days": 30}


def _product(
    name: str,
    amount: int,
    *,
    pool: str | None = MAIN,
    kind: str = "single",
    sale: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "venue_id": VENUE,
        "name": name,
        "kind": kind,
        "prices": [{"amount": amount, "channel": "*"}],
        "rules": {"sale": [BOOKING, *(sale or [])]},
        "valid_days": 1,
        **extra,
    }
    if pool is not None:
        doc["pool"] = pool
    return doc


PRODUCTS: dict[str, dict[str, Any]] = {
    "adult": _product("成人票 Adult", 19000),
    "child": _product(
        "儿童票 Child (6–17)",
        9500,
        sale=[{"check": "real_name"}, {"check": "age", "max": 17}],
    ),
    "senior": _product(
        "长者票 Senior (60+)",
        9500,
        sale=[{"check": "real_name"}, {"check": "age", "min": 60}],
    ),
    "realname": _product(
        "实名制门票 Real-name (1 per ID per day)",
        19000,
        sale=[{"check": "real_name"}, {"check": "per_id_daily_limit", "limit": 1}],
    ),
    "cablecar": _product("玉屏索道 Cable car", 9000, pool=CABLE),
    "combo": _product(
        "门票+索道 Entry + cable car",
        26000,
        pool=None,
        kind="combo",
        components=[
            {"product_id": "adult", "quantity": 1},
            {"product_id": "cablecar", "quantity": 1},
        ],
    ),
    "group": _product(
        "团队票 Group (10+)",
        15000,
        kind="group",
        sale=[{"check": "real_name"}, {"check": "group_size", "min": 10}],
    ),
}


async def seed(ctx: DemoContext) -> dict[str, int]:
    """Create the venue, products, a week of slots, the sunrise slot and the allotment.

    Returns counts for the summary."""
    admin = ctx.admin
    first, last = ctx.week[0].isoformat(), ctx.week[-1].isoformat()
    busy = ctx.busy_day.isoformat()
    await admin.put_venue(VENUE, VENUE_NAME, TIMEZONE)
    for product_id, doc in PRODUCTS.items():
        await admin.put_product(product_id, doc)
    await admin.put_inventory(MAIN, first, last, SLOTS)
    await admin.put_inventory(MAIN, busy, busy, [(SUNRISE, SUNRISE_CAPACITY)])
    await admin.put_inventory(CABLE, first, last, CABLE_SLOTS)
    await admin.put_allotment(
        MAIN, first, last, ALLOTMENT_CHANNEL, ALLOTMENT, slot=ALLOTMENT_SLOT, fallback=True
    )
    ctx.pools[:] = [MAIN, CABLE]
    return {
        "products": len(PRODUCTS),
        "days": len(ctx.week),
        "slots": len(ctx.week) * (len(SLOTS) + len(CABLE_SLOTS)) + 1,
    }
