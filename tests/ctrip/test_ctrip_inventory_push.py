"""DateInventoryModify: staff capacity and allotment changes → stock-dirty marks in the
capacity transaction → the hub's stock pusher (`hub.stockpush`) → one call per Ctrip
product and ≤ 90 days, carrying the stock at delivery, rate limited as the spec says,
landing once at the sandbox Ctrip."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.channels.outbound import RateLimiter
from tests.ctrip.kit import callback_rig, order
from tests.stockpush.kit import push_all, stock_worker
from tests.support import ADMIN, TOMORROW

CTRIP_PRODUCTS_ON_MAIN = ("adult", "combo", "realname")  # what the seed sells from `main`


async def set_capacity(rig: Any, days: int, capacity: int, pool: str = "main") -> int:
    last = TOMORROW + timedelta(days=days - 1)
    resp = await rig.client.put(
        "/api/admin/inventory",
        json={
            "pool": pool,
            "date_from": TOMORROW.isoformat(),
            "date_to": last.isoformat(),
            "slots": [{"code": "", "capacity": capacity}],
        },
        headers=ADMIN,
    )
    return resp.status


async def test_a_burst_of_changes_is_batched_per_product_with_the_latest_stock(
    aiohttp_client: Any, db_url: str
) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="") as rig:
        worker = stock_worker(rig)
        await push_all(rig, worker)  # the seed's own capacity pushes
        before = len(rig.receiver.of("DateInventoryModify"))
        days = 120
        for capacity in (20, 25, 30, 35, 40):  # five changes in one burst
            assert await set_capacity(rig, days, capacity) == 200
        assert (await rig.ctrip.call("CreatePreOrder", order("i1", quantity=3))).ok
        rig.receiver.fail_service("DateInventoryModify", "500", "ok", "code:1100")
        await push_all(rig, worker)
        pushes = rig.receiver.of("DateInventoryModify")[before:]
        assert rig.receiver.duplicates == []
        assert all(len(p.body["inventorys"]) <= 90 for p in pushes)
        by_product: dict[str, dict[str, int]] = {}
        for p in pushes:
            rows = {r["date"]: r["quantity"] for r in p.body["inventorys"]}
            by_product.setdefault(p.body["supplierOptionId"], {}).update(rows)
        assert sorted(by_product) == list(CTRIP_PRODUCTS_ON_MAIN)
        # 120 days: two calls per product (90 + 30), not one per change
        assert len(pushes) == 2 * len(CTRIP_PRODUCTS_ON_MAIN), [
            (p.body["supplierOptionId"], len(p.body["inventorys"])) for p in pushes
        ]
        adult = by_product["adult"]
        assert len(adult) == days
        assert adult[TOMORROW.isoformat()] == 40 - 3  # latest capacity, minus the hold
        assert adult[(TOMORROW + timedelta(days=100)).isoformat()] == 40


async def test_a_refused_capacity_change_pushes_nothing(aiohttp_client: Any, db_url: str) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="", capacity=5) as rig:
        worker = stock_worker(rig)
        await push_all(rig, worker)
        assert (await rig.ctrip.call("CreatePreOrder", order("i2", quantity=4))).ok
        await push_all(rig, worker)
        before = len(rig.receiver.of("DateInventoryModify"))
        assert await set_capacity(rig, 3, 2) != 200  # below what is already held
        assert await rig.hub.stock.run_once() == 0
        await push_all(rig, worker)
        assert len(rig.receiver.of("DateInventoryModify")) == before


async def test_pushes_are_rate_limited_and_resume_without_duplicates(
    aiohttp_client: Any, db_url: str
) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="") as rig:
        worker = stock_worker(rig)
        await push_all(rig, worker)
        channel = rig.hub.plugins.channels.get("ctrip")
        assert channel.deliveries is not None

        async def out_of_time(_seconds: float) -> None:
            # a wait longer than the attempt: what the attempt's timeout turns it into
            raise TimeoutError

        # 2 calls a minute, measured on the hub's clock (which the test moves)
        limiter = RateLimiter(2, monotonic=lambda: rig.clock.now().timestamp(), sleep=out_of_time)
        channel.deliveries.outbound.limiters["DateInventoryModify"] = limiter
        before = len(rig.receiver.of("DateInventoryModify"))
        assert await set_capacity(rig, 10, 50) == 200
        rig.clock.advance(seconds=61)  # past the per-resource window of the seed's push
        await rig.hub.stock.run_once()
        await worker.run_once()
        assert len(rig.receiver.of("DateInventoryModify")) - before == 2  # the limit
        await push_all(rig, worker)
        pushes = rig.receiver.of("DateInventoryModify")[before:]
        assert sorted(p.body["supplierOptionId"] for p in pushes) == list(CTRIP_PRODUCTS_ON_MAIN)
        assert rig.receiver.duplicates == []


async def test_rate_limiter_waits_for_the_oldest_call_to_leave_the_minute() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(100, monotonic=lambda: now[0], sleep=sleep)
    for i in range(100):
        now[0] = i * 0.1
        await limiter.acquire()
    assert slept == []
    await limiter.acquire()  # the 101st within the minute waits until t = 60.0
    assert slept == [60.0 - 9.9] and now[0] == 60.0


async def test_an_allotment_change_is_pushed_too(aiohttp_client: Any, db_url: str) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="") as rig:
        worker = stock_worker(rig)
        await push_all(rig, worker)
        last = TOMORROW + timedelta(days=1)
        resp = await rig.client.put(
            "/api/admin/allotments",
            json={
                "pool": "main",
                "date_from": TOMORROW.isoformat(),
                "date_to": last.isoformat(),
                "slot": "",
                "channel": "meituan",
                "quantity": 4,
                "fallback": False,
            },
            headers=ADMIN,
        )
        assert resp.status == 200, await resp.text()
        before = len(rig.receiver.of("DateInventoryModify"))
        await push_all(rig, worker)
        pushes = rig.receiver.of("DateInventoryModify")[before:]
        adult = next(p for p in pushes if p.body["supplierOptionId"] == "adult")
        # Ctrip can no longer sell the 4 places reserved for another channel
        assert [r["quantity"] for r in adult.body["inventorys"]] == [6, 6]


async def test_a_channel_with_an_allotment_is_told_its_allotment(
    aiohttp_client: Any, db_url: str
) -> None:
    async with callback_rig(aiohttp_client, db_url, async_services="") as rig:
        worker = stock_worker(rig)
        await push_all(rig, worker)
        resp = await rig.client.put(
            "/api/admin/allotments",
            json={
                "pool": "main",
                "date_from": TOMORROW.isoformat(),
                "date_to": TOMORROW.isoformat(),
                "slot": "",
                "channel": "ctrip",
                "quantity": 3,
                "fallback": False,
            },
            headers=ADMIN,
        )
        assert resp.status == 200, await resp.text()
        await push_all(rig, worker)
        assert rig.receiver.stock.shows("adult", TOMORROW.isoformat()) == 3
