"""End to end, through real sockets: WeChat sales (the WeChat simulator, the
mini-program client) lower the stock every sandbox OTA shows — Ctrip and Fliggy by
push, Meituan by notice and pull, Douyin by its own pulls — and each ends with the
hub's number. This is `tickethub bench stocksync` on a few sales."""

from __future__ import annotations

from typing import Any

from sandbox.bench_stocksync import BenchStockConfig, bench_stocksync, lags


async def test_wechat_sales_reach_every_ota(db_url: str) -> None:
    cfg = BenchStockConfig(
        changes=6,
        concurrency=2,
        database_url=db_url,
        ctrip_window=0.5,
        douyin_every=0.1,
        settle_seconds=30,
    )
    result: dict[str, Any] = await bench_stocksync(cfg)
    assert result["initial_reached"] is True
    assert result["changes"] == 6 and result["refused_sales"] == 0
    assert result["final_stock"] == 50  # capacity = changes + 50
    assert result["final_consistent"] is True, result
    for name in ("ctrip", "meituan", "fliggy", "douyin"):
        partner = result["partners"][name]
        assert partner["final_consistent"] is True, (name, partner)
        assert partner["refused_by_partner"] == 0, (name, partner)
    assert result["partners"]["ctrip"]["per_resource_limited"] is True


def test_lag_is_measured_to_the_first_receipt_reflecting_the_change() -> None:
    # stock 10; changes committed at t=1 (→9) and t=2 (→8); receipts: 10 at 0.5,
    # 9 at 1.3, 8 at 2.6 → lags 0.3 and 0.6
    got = lags([1.0, 2.0], 10, [(0.5, 10), (1.3, 9), (2.6, 8)])
    assert [round(x, 3) for x in got] == [0.3, 0.6]
    # a change never reflected is left out (final_consistent says so)
    assert [round(x, 3) for x in lags([1.0, 2.0], 10, [(1.3, 9)])] == [0.3]
