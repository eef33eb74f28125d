"""``tickethub bench sync|scans|failover``: the bridge's benches, which run a hub and a
bridge together, and ``bench stocksync``, which runs a hub with the sandbox OTAs (so they
live here, beside the demo, not in either). The ``tickethub``
command finds them through the ``tickethub.commands`` entry points (see pyproject.toml):
the hub never imports the sandbox."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.bench.results import DbKind, report_result
from hub.process import run_async


def sync(
    decisions: Annotated[int, typer.Option(min=1, help="offline decisions to sync (N)")] = 100_000,
    db: Annotated[DbKind, typer.Option(help="the hub's database")] = DbKind.sqlite,
) -> None:
    """N offline bridge decisions synced to a hub process: time, lost, duplicated (JSON)."""
    from sandbox.bench_bridge import bench_sync

    result = run_async(bench_sync(decisions, db.value))
    report_result(result, failed=bool(result["lost"] or result["duplicated"]))


def scans(
    scans: Annotated[int, typer.Option(min=1, help="scans per phase (offline, online)")] = 5000,
    db: Annotated[DbKind, typer.Option(help="the hub's database")] = DbKind.sqlite,
    readers: Annotated[
        int,
        typer.Option(
            min=1, max=1000, help="QR readers onboarded on the bridge; scans spread over them"
        ),
    ] = 1,
) -> None:
    """Decision latency p50/p99 and scans/s at the bridge, offline and online (JSON)."""
    from sandbox.bench_bridge import bench_scans

    report_result(run_async(bench_scans(scans, db.value, readers=readers)), failed=False)


def failover(
    cycles: Annotated[int, typer.Option(min=1, max=100, help="outage cycles")] = 5,
    heartbeat: Annotated[
        float, typer.Option(min=0.1, max=60, help="the bridge's heartbeat interval (s)")
    ] = 2.0,
    hub_timeout: Annotated[
        float, typer.Option(min=0.5, max=120, help="the bridge's per-call timeout (s)")
    ] = 10.0,
    failback_after: Annotated[int, typer.Option(min=1, max=20, help="heartbeats")] = 2,
    db: Annotated[DbKind, typer.Option(help="the hub's database")] = DbKind.sqlite,
) -> None:
    """Bridge with two hub links on loopback: hub back → ONLINE, fail-over and fail-back
    times p50/max over the cycles (JSON). Exits 1 if a decision was lost or doubled."""
    from sandbox.bench_failover import bench_failover

    result = run_async(bench_failover(cycles, heartbeat, hub_timeout, failback_after, db.value))
    report_result(
        result, failed=bool(result["lost"] or result["duplicated"] or result["unsynced_left"])
    )


def stocksync(
    changes: Annotated[int, typer.Option(min=1, max=100_000, help="WeChat sales")] = 500,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="sales in flight")] = 32,
    ctrip_window: Annotated[
        float,
        typer.Option(help="Ctrip's per-resource window in seconds (Ctrip documents ~60)"),
    ] = 5.0,
    douyin_every: Annotated[
        float, typer.Option(min=0.01, help="seconds between Douyin's stock pulls")
    ] = 0.2,
    database_url: Annotated[
        str | None, typer.Option(help="an EMPTY database to use (default: a temporary SQLite)")
    ] = None,
) -> None:
    """WeChat sales at full speed while the sandbox OTAs record the stock they are told
    (JSON: changes, pushes, lag_p50_ms, lag_p99_ms, final_consistent, per partner).

    Exits 1 unless every OTA ends with the hub's final number."""
    from sandbox.bench_stocksync import BenchStockConfig, bench_stocksync

    cfg = BenchStockConfig(
        changes=changes,
        concurrency=concurrency,
        database_url=database_url,
        ctrip_window=ctrip_window,
        douyin_every=douyin_every,
    )
    result = run_async(bench_stocksync(cfg))
    report_result(result, failed=not result["final_consistent"])
