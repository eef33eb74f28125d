"""``tickethub bench``: measurements that are run, not asserted (see the README's Benchmarks).

The bridge's benches (``bench sync``, ``scans``, ``failover``) run a hub and a bridge
together; they live in `sandbox.bench_cli` and join this group through the
``tickethub.commands`` entry points, so the hub imports neither."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from hub.bench.results import DbKind, report_result
from hub.process import run_async

if TYPE_CHECKING:
    from hub.bench.orders import BenchConfig


class LoadBalancer(StrEnum):
    none = "none"
    haproxy = "haproxy"


app = typer.Typer(no_args_is_help=True, help="Benchmarks against a baseline server.")


@app.callback()
def _group() -> None:
    """Benchmarks against a baseline server (keeps `bench` a group of subcommands)."""


@app.command("orders")
def orders(
    db: Annotated[
        DbKind, typer.Option(help="database to create fresh for the run")
    ] = DbKind.sqlite,
    processes: Annotated[
        str,
        typer.Option(
            help="hub (and baseline) processes; a list (1,2,4) runs once per count, "
            "one JSON line each"
        ),
    ] = "1",
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
    lb: Annotated[
        LoadBalancer,
        typer.Option(help="haproxy: the load goes through HAProxy in front of the processes"),
    ] = LoadBalancer.none,
    history: Annotated[
        int,
        typer.Option(
            min=0, max=10_000_000, help="past orders (tickets, redemptions) preloaded first"
        ),
    ] = 0,
) -> None:
    """Order intake of N hub processes against the honest ceiling; one JSON line.

    Exits 1 if the hub oversold or answered anything but 201 or 409 SOLD_OUT (with
    ``--overload``: anything but 201 or 503 BUSY, or a client timed out)."""
    from hub.bench.orders import BenchConfig, bench_env_pg_url, default_warmup
    from hub.bench.overload import DEFAULT_CLIENT_TIMEOUT, DEFAULT_CONCURRENCY

    if overload and (slots != 1 or capacity is not None):
        raise typer.BadParameter(
            "--overload sells one slot with room for every order", param_hint="--slots/--capacity"
        )
    if capacity is not None and capacity < slots:
        raise typer.BadParameter("give every slot at least one unit", param_hint="--capacity")
    counts = process_counts(processes)
    if lb is LoadBalancer.haproxy:
        from hub.bench.haproxy import INSTALL_HINT, haproxy_binary

        if haproxy_binary() is None:
            typer.echo(INSTALL_HINT, err=True)
            raise typer.Exit(2)
    c = concurrency or (DEFAULT_CONCURRENCY if overload else 64)
    for n in counts:
        _orders_once(
            BenchConfig(
                db=db.value,
                processes=n,
                concurrency=c,
                orders=orders,
                capacity=capacity if capacity is not None else max(1, orders // 2),
                warmup=warmup if warmup is not None else default_warmup(orders, min(c, 64)),
                pg_url=pg_url or bench_env_pg_url(),
                run_timeout=timeout,
                slots=slots,
                request_timeout=client_timeout or (DEFAULT_CLIENT_TIMEOUT if overload else 30.0),
                sse_clients=sse_clients,
                lb="" if lb is LoadBalancer.none else lb.value,
                history=history,
            ),
            overload=overload,
            quiet=json_only,
            last=n == counts[-1],
        )


def process_counts(text: str) -> list[int]:
    """``"1,2,4"`` → [1, 2, 4]; each between 1 and 64."""
    try:
        counts = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a list of numbers like 1,2,4", param_hint="--processes"
        ) from None
    if not counts or any(not 1 <= n <= 64 for n in counts):
        raise typer.BadParameter("process counts go from 1 to 64", param_hint="--processes")
    return counts


def _orders_once(cfg: BenchConfig, *, overload: bool, quiet: bool, last: bool) -> None:
    """One run, one JSON line; a broken promise exits 1 after the line (at once, so a
    failed count is not hidden behind later ones)."""
    from hub.bench.orders import run_bench
    from hub.bench.overload import run_overload

    if overload:
        result = run_async(run_overload(cfg, quiet=quiet))
        failed = bool(result["oversold"] or result["errors"] or result["timeouts"])
    else:
        result = run_async(run_bench(cfg, quiet=quiet))
        failed = bool(result["oversold"] or result["errors"])
    if failed or last:
        report_result(result, failed=failed)
    else:
        typer.echo(json.dumps(result, separators=(", ", ": ")))




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
    report_result(result, failed=False)



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
    report_result(result, failed=not result["ok"])

