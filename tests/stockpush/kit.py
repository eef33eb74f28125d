"""Stock-push test kit: the Ctrip callback rig with a worker that also lands the stock
pushes (``stock:<channel>`` calls), and a driver that runs the pusher and the worker
round by round on the rig's FixedClock — no waits on real time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from hub.outbox import OutboxWorker, policies_from
from hub.stockpush.lane import PARTNER_PREFIX, deliverer
from hub.storage.stock_tables import StockDirtyRow, StockPushTargetRow
from hub.storage.tables import OutboxRow
from tests.support import BACKGROUND_BOUND, BOX, TOMORROW


def stock_worker(rig: Any) -> OutboxWorker:
    hub = rig.hub
    find = deliverer(lambda: hub.stock, hub.plugins.channels.find)
    return OutboxWorker(
        hub.engine,
        deliverer=find,
        policy_for=policies_from(find),
        clock=rig.clock,
        worker_id="stock-test",
        lease_seconds=60,
    )


async def _open_stock_rows(rig: Any) -> tuple[int, Any]:
    open_ = OutboxRow.state.in_(("pending", "inflight"))
    is_stock = OutboxRow.partner.startswith(PARTNER_PREFIX)
    async with rig.hub.engine.connect() as conn:
        n = (await conn.execute(select(func.count()).where(open_, is_stock))).scalar_one()
        due = (
            await conn.execute(
                select(func.min(OutboxRow.next_attempt_at)).where(
                    OutboxRow.state == "pending", is_stock
                )
            )
        ).scalar_one()
        dirty = (await conn.execute(select(func.count()).select_from(StockDirtyRow))).scalar_one()
        t = StockPushTargetRow
        unsent = (
            await conn.execute(select(func.count()).where(t.version > t.sent_version))
        ).scalar_one()
    return int(n) + int(dirty) + int(unsent), due


async def push_all(rig: Any, worker: OutboxWorker, *, max_rounds: int = 30) -> int:
    """Drain marks, queue and land pushes until nothing is left; moves the clock to the
    next due push (a per-resource window, a retry's backoff). Returns the rounds."""
    from datetime import UTC

    for n in range(1, max_rounds + 1):
        await rig.hub.stock.run_once()
        await worker.run_once()
        await rig.hub.stock.run_once()
        left, due = await _open_stock_rows(rig)
        if left == 0:
            return n
        if due is not None:
            due = due if due.tzinfo else due.replace(tzinfo=UTC)
            if due > rig.clock.now():
                rig.clock.set(due)
        else:  # dirty but not queued: a partner's call budget is spent for now
            rig.clock.advance(seconds=10)
    raise AssertionError("stock pushes did not drain")


async def box_sale(client: Any, key: str, quantity: int = 1, product: str = "adult") -> None:
    resp = await client.post(
        "/api/boxoffice/orders",
        json={
            "travel_date": TOMORROW.isoformat(),
            "slot": "",
            "lines": [{"product_id": product, "quantity": quantity}],
        },
        headers={**BOX, "Idempotency-Key": key},
    )
    assert resp.status in (200, 201), await resp.text()


async def until(check: Callable[[], bool], timeout: float = BACKGROUND_BOUND) -> None:
    """Wait for a condition another task makes true (a partner's pull); the bound is a
    hang guard (see `BACKGROUND_BOUND`)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
