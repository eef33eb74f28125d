"""WeChat Pay failing is counted where the ``payment_failures`` rule reads it: each
prepay WeChat Pay did not take is one row (provider, operation, WeChat's code, the
merchant's trade number — no personal data), and a rule on them opens and clears over
its window (SQLite and PostgreSQL)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from hub.alerts.engine import evaluate
from hub.storage.health_tables import PaymentFailureRow
from tests.support import ADMIN
from tests.wechat.kit import SLOT, start

FAILURES = PaymentFailureRow.__table__


async def test_prepay_failures_are_counted_and_raise_payment_failures(
    aiohttp_client: Any, db_url: str, stack: AsyncExitStack
) -> None:
    w = await start(aiohttp_client, db_url, stack, outbox_workers=0)
    resp = await w.client.post(
        "/api/admin/alerts/rules",
        json={
            "name": "wechat pay",
            "kind": "payment_failures",
            "params": {"provider": "wechat", "window_seconds": 600},
            "open_at": 2,
            "clear_below": 1,
        },
        headers=ADMIN,
    )
    assert resp.status == 201, await resp.text()
    mp = await w.visitor("o-vera")
    w.sim.faults.add("/v3/pay/transactions/jsapi", "http_5xx", times=1)
    down = await mp.order("ck-vera-00001", "adult", w.day, SLOT, 1)
    assert (down.status, down.code) == (503, "PAYMENT_UNAVAILABLE")
    assert await w.hub.alerts.evaluate_now() == []  # one failure is not a pattern
    w.sim.faults.add("/v3/pay/transactions/jsapi", "system_error", times=1)
    busy = await mp.order("ck-vera-00001", "adult", w.day, SLOT, 1)
    assert (busy.status, busy.code) == (503, "PAYMENT_UNAVAILABLE")
    back = await mp.order("ck-vera-00001", "adult", w.day, SLOT, 1)
    assert back.status == 201  # a success is not a failure

    async with w.hub.engine.connect() as conn:
        rows = (await conn.execute(select(FAILURES).order_by(FAILURES.c.id))).all()
    out_trade = back.body["order"]["out_trade_no"]
    assert [(r.provider, r.operation, r.reference) for r in rows] == [
        ("wechat", "prepay", out_trade),
        ("wechat", "prepay", out_trade),
    ]
    assert [r.code for r in rows] == ["HTTP_502", "HTTP_500"]  # as the channel names them

    [opened] = await w.hub.alerts.evaluate_now()
    assert (opened.transition, opened.value) == ("opened", 2.0)
    later = w.hub.clock.now() + timedelta(seconds=601)  # both left the window
    [resolved] = await evaluate(w.hub.engine, later, w.hub.outbox.enqueue)
    assert (resolved.transition, resolved.value) == ("resolved", 0.0)
