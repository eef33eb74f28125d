"""``tickethub bench``: measurements that are run, not asserted (see the README's Benchmarks)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from hub.process import run_async

app = typer.Typer(no_args_is_help=True, help="Benchmarks against a baseline server.")


class DbKind(StrEnum):
    sqlite = "sqlite"
    postgres = "postgres"


def _report(result: dict[str, Any], *, failed: bool) -> None:
    """One JSON line on stdout (what scripts and the README read); exit 1 when the run
    broke a promise (oversold, lost or duplicated), whatever the timings."""
    typer.echo(json.dumps(result, separators=(", ", ": ")))
    if failed:
        raise typer.Exit(1)


@app.callback()
def _group() -> None:
    """Benchmarks against a baseline server (keeps `bench` a group of subcommands)."""


@app.command("orders")
def orders(
    db: Annotated[
        DbKind, typer.Option(help="database to create fresh for the run")
    ] = DbKind.sqlite,
    processes: Annotated[int, typer.Option(min=1, max=64, help="hub (and baseline) processes")] = 1,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=4096, help="requests in flight (default 64; 1024 with --overload)"),
    ] = None,
    orders: Annotated[int, typer.Option(min=1, max=1_000_000, help="measured orders (M)")] = 3000,
    capacity: Annotated[
        int | None, typer.Option(min=1, help="units in the hot slot (K), default M // 2")
    ] = None,
    warmup: Annotated[
        int | None, typer.Option(min=0, help="warm-up orders on another slot")
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1, help="seconds each load phase may take at most")
    ] = 300.0,
    pg_url: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL server to create the bench database on "
            "(default $TICKETHUB_BENCH_PG_URL or postgres@127.0.0.1:5432)"
        ),
    ] = None,
    json_only: Annotated[bool, typer.Option(help="no progress display on stderr")] = False,
    slots: Annotated[
        int,
        typer.Option(min=1, max=100, help="spread the same load and capacity over N slots"),
    ] = 1,
    overload: Annotated[
        bool,
        typer.Option(
            help="offered load far above capacity instead: shed (503), timeouts, accepted rate"
        ),
    ] = False,
    client_timeout: Annotated[
        float | None,
        typer.Option(
            min=0.1, help="seconds a client waits per request (default 30; 2 with --overload)"
        ),
    ] = None,
    sse_clients: Annotated[
        int,
        typer.Option(
            min=0, max=1000, help="flow-wall SSE streams kept open on the hub during the run"
        ),
    ] = 0,
) -> None:
    """Order intake of N hub processes against the honest ceiling; one JSON line.

    Exits 1 if the hub oversold or answered anything but 201 or 409 SOLD_OUT (with
    ``--overload``: anything but 201 or 503 BUSY, or a client timed out)."""
    from hub.bench.orders import BenchConfig, bench_env_pg_url, default_warmup, run_bench
    from hub.bench.overload import DEFAULT_CLIENT_TIMEOUT, DEFAULT_CONCURRENCY, run_overload

    if overload and (slots != 1 or capacity is not None):
        raise typer.BadParameter(
            "--overload sells one slot with room for every order", param_hint="--slots/--capacity"
        )
    c = concurrency or (DEFAULT_CONCURRENCY if overload else 64)
    cfg = BenchConfig(
        db=db.value,
        processes=processes,
        concurrency=c,
        orders=orders,
        capacity=capacity if capacity is not None else max(1, orders // 2),
        warmup=warmup if warmup is not None else default_warmup(orders, min(c, 64)),
        pg_url=pg_url or bench_env_pg_url(),
        run_timeout=timeout,
        slots=slots,
        request_timeout=client_timeout or (DEFAULT_CLIENT_TIMEOUT if overload else 30.0),
        sse_clients=sse_clients,
    )
    if cfg.capacity < slots:
        raise typer.BadParameter("give every slot at least one unit", param_hint="--capacity")
    if overload:
        result = run_async(run_overload(cfg, quiet=json_only))
        failed = bool(result["oversold"] or result["errors"] or result["timeouts"])
    else:
        result = run_async(run_bench(cfg, quiet=json_only))
        failed = bool(result["oversold"] or result["errors"])
    _report(result, failed=failed)


@app.command("wall")
def wall(
    db: Annotated[DbKind, typer.Option(help="database to create fresh for the run")] = (
        DbKind.sqlite
    ),
    scans: Annotated[
        int, typer.Option(min=1, max=10_000, help="scans synced, one at a time")
    ] = 200,
    clients: Annotated[int, typer.Option(min=1, max=1000, help="walls watching")] = 1,
    processes: Annotated[
        int,
        typer.Option(
            min=1, max=16, help="hub processes; 2+: walls on the last, uploads to the first"
        ),
    ] = 1,
    gap: Annotated[float, typer.Option(min=0, help="seconds between two scans")] = 0.3,
    pg_url: Annotated[
        str | None, typer.Option(help="PostgreSQL server for the bench database")
    ] = None,
) -> None:
    """Time from a synced scan (the bridge's upload sent) to the flow wall's SSE event
    with the new in-park figure at the clients: p50/p99 ms (JSON)."""
    from hub.bench.orders import bench_env_pg_url
    from hub.bench.wall import bench_wall

    result = run_async(
        bench_wall(
            db.value,
            scans=scans,
            clients=clients,
            processes=processes,
            pg_url=pg_url or bench_env_pg_url(),
            gap=gap,
        )
    )
    _report(result, failed=False)


@app.command("sync")
def sync(
    decisions: Annotated[int, typer.Option(min=1, help="offline decisions to sync (N)")] = 100_000,
    db: Annotated[DbKind, typer.Option(help="the hub's database")] = DbKind.sqlite,
) -> None:
    """N offline bridge decisions synced to a hub process: time, lost, duplicated (JSON)."""
    from hardware_bridge.bench import bench_sync

    result = run_async(bench_sync(decisions, db.value))
    _report(result, failed=bool(result["lost"] or result["duplicated"]))


@app.command("scans")
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
    from hardware_bridge.bench import bench_scans

    _report(run_async(bench_scans(scans, db.value, readers=readers)), failed=False)


@app.command("failover")
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
    from hardware_bridge.bench_failover import bench_failover

    result = run_async(bench_failover(cycles, heartbeat, hub_timeout, failback_after, db.value))
    _report(result, failed=bool(result["lost"] or result["duplicated"] or result["unsynced_left"]))


@app.command("reconcile")
def reconcile(
    lines: Annotated[
        int, typer.Option(min=100, max=5_000_000, help="statement lines (N)")
    ] = 100_000,
    database_url: Annotated[
        str | None, typer.Option(help="an empty database to use (default: a temporary SQLite)")
    ] = None,
) -> None:
    """A WeChat bill of N lines with injected discrepancies imported and matched (JSON).

    Exits 1 unless every injected discrepancy was found, none invented, and a re-import
    changed nothing."""
    from hub.bench.reconcile import bench_reconcile

    result = run_async(bench_reconcile(lines, database_url))
    _report(result, failed=not result["ok"])
