"""`tickethub bench orders` end to end, small: the JSON line is complete and honest.

Speed is measured by the bench and never asserted here: a test machine's speed says
nothing about the code, and a threshold would only make the suite flaky.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from hub.bench import baseline, ceiling
from hub.bench.load import ACCEPTED, SOLD_OUT, Outcome, Request, percentile, run_load, summarize
from hub.bench.orders import hot_slots, split_capacity
from hub.bench.procstat import CpuSampler, cpu_seconds, per_order_ms, rss_mb
from hub.testing.processes import ServerProcesses, ServerStartError, python_module_argv
from tests.support import bench_json

pytestmark = pytest.mark.slow

FIELDS = {
    "db",
    "processes",
    "concurrency",
    "orders",
    "capacity",
    "accepted",
    "sold_out",
    "oversold",
    "accepted_per_s",
    "p50_ms",
    "p99_ms",
    "baseline_per_s",
    "baseline_p50_ms",
    "baseline_p99_ms",
    "ratio",
    "slots",
    "cpu_ms_per_order",
    "rss_mb",
    "baseline_cpu_ms_per_order",
    "baseline_rss_mb",
    "baseline_per_request_per_s",
    "baseline_per_request_p99_ms",
    "baseline_per_request_cpu_ms_per_order",
    "ratio_per_request",
}


def _bench(*args: str) -> dict[str, Any]:
    return bench_json("orders", *args, "--json-only")


def test_bench_orders_sqlite_small() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub",
            "bench",
            "orders",
            "--db",
            "sqlite",
            "--processes",
            "1",
            "--concurrency",
            "16",
            "--orders",
            "200",
            "--json-only",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stdout
    result = json.loads(lines[0])
    assert result.keys() >= FIELDS
    assert result["db"] == "sqlite"
    assert result["orders"] == 200
    assert result["capacity"] == 100
    assert result["oversold"] == 0
    assert result["accepted"] == result["capacity"]
    assert result["accepted"] + result["sold_out"] == result["orders"]
    assert result["ratio"] > 0
    assert result["baseline_per_s"] > 0
    assert result["baseline_per_request_per_s"] > 0
    assert result["slots"] == 1
    assert result["baseline_errors"] == result["baseline_per_request_errors"] == {}
    for key in ("cpu_ms_per_order", "rss_mb", "baseline_cpu_ms_per_order", "baseline_rss_mb"):
        assert result[key] is not None and result[key] > 0, key


def test_bench_orders_spread_over_slots_sells_the_same_capacity() -> None:
    result = _bench("--concurrency", "16", "--orders", "150", "--capacity", "70", "--slots", "7")
    assert (result["slots"], result["capacity"], result["oversold"]) == (7, 70, 0)
    assert result["accepted"] == 70
    assert result["accepted"] + result["sold_out"] == 150


def test_bench_orders_overload_reports_sheds_and_timeouts() -> None:
    """Small and with a patient client (a loaded test machine must not turn into
    timeouts): the figures are there and consistent; shedding itself is shown without
    timing in tests/orders/test_overload.py."""
    result = _bench(
        "--overload", "--concurrency", "96", "--orders", "300", "--client-timeout", "60"
    )
    for key in ("offered", "accepted_per_s", "shed", "timeouts", "p99_ms", "unloaded_per_s"):
        assert key in result, key
    assert result["offered"] == 300 and result["oversold"] == 0
    assert result["accepted"] + result["shed"] + result["timeouts"] == 300
    assert result["accepted"] > 0 and result["timeouts"] == 0 and result["errors"] == {}


def test_bench_orders_refuses_nonsense_options() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hub", "bench", "orders", "--slots", "10", "--capacity", "5"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2 and "at least one unit" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_slots_are_distinct_valid_and_share_the_capacity() -> None:
    codes = hot_slots(100)
    assert len(set(codes)) == 100 and codes[0] == "06:00-06:10" and codes[-1] == "22:30-22:40"
    assert hot_slots(1) == ["10:00-11:00"]
    assert split_capacity(3000, 7) == [429, 429, 429, 429, 428, 428, 428]
    assert sum(split_capacity(3000, 50)) == 3000
    with pytest.raises(ValueError):
        hot_slots(101)


async def test_process_accounting_reads_proc() -> None:
    pid = os.getpid()
    assert (cpu_seconds([pid]) or 0) > 0
    assert (rss_mb([pid]) or 0) > 1
    assert cpu_seconds([2**22 + 12345]) is None  # a process that is not there
    assert per_order_ms(None, 10) is None and per_order_ms(1.0, 0) is None
    assert per_order_ms(0.5, 250) == 2.0
    sampler = CpuSampler([pid], every=0.001)
    sampler.start()
    before = cpu_seconds([pid]) or 0.0
    while (cpu_seconds([pid]) or 0.0) < before + 0.03:  # burn a few clock ticks of CPU
        sum(i * i for i in range(20_000))
    await sampler.stop()
    assert (sampler.at(1e9) or 0) > 0


def _outcome(i: int, code: str, latency: float, done_at: float) -> Outcome:
    return Outcome(i, "http://x", 201 if code == "ACCEPTED" else 409, code, latency, done_at)


def test_accepted_per_s_stops_at_the_last_sale() -> None:
    """Throughput counts accepted orders up to the last accepted completion, so the fast
    refusals after the sell-out neither dilute nor inflate it."""
    outcomes = [
        _outcome(0, "ACCEPTED", 10.0, 0.5),
        _outcome(1, "ACCEPTED", 20.0, 1.0),
        _outcome(2, "SOLD_OUT", 1.0, 3.0),
        _outcome(3, "SOLD_OUT", 1.0, 4.0),
    ]
    result = summarize(outcomes, total=5, wall_s=4.0, timed_out=True)
    assert result.accepted == 2
    assert result.accepted_wall_s == 1.0
    assert result.accepted_per_s == 2.0
    assert result.sold_out == 2
    assert result.errors == {"TIMEOUT": 1}
    assert result.p50_ms == 1.0
    assert result.p99_ms == 20.0


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 99) == 0.0
    assert percentile([7.0], 1) == 7.0


# -- the harness and the baseline, without the hub ----------------------------------------


def _baseline_argv(url: str) -> Callable[[int], list[str]]:
    def argv(port: int) -> list[str]:
        return python_module_argv("hub.bench.baseline", "--port", str(port), "--database-url", url)

    return argv


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_baseline_processes_never_oversell_and_are_stopped(sqlite_url: str) -> None:
    """Two baseline processes on one SQLite file: the conditional update holds across
    processes, and leaving the block — here by an exception — stops both."""
    await baseline.setup_rows(sqlite_url, {1: 30})
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="body failed"):
        async with ServerProcesses(_baseline_argv(sqlite_url), 2, name="baseline") as servers:
            pids = servers.pids
            result = await run_load(
                servers.urls,
                lambda i: Request("/orders", {"id": 1, "quantity": 1 + i % 3}),
                total=60,
                concurrency=60,
            )
            raise RuntimeError("body failed")
    assert pids and all(_gone(pid) for pid in pids)
    units = sum(1 + o.index % 3 for o in result.outcomes if o.code == ACCEPTED)
    assert units == 30
    assert {o.code for o in result.outcomes} == {ACCEPTED, SOLD_OUT}
    assert await baseline.read_rows(sqlite_url) == {1: (30, 30)}


def _ceiling_argv(url: str) -> Callable[[int], list[str]]:
    def argv(port: int) -> list[str]:
        return python_module_argv("hub.bench.ceiling", "--port", str(port), "--database-url", url)

    return argv


async def test_ceiling_processes_never_oversell_and_write_one_order_row_per_sale(
    db_url: str,
) -> None:
    """Two ceiling processes, group commit on both, mixed quantities racing for 30 units
    on one row and 5 on another: the guard holds across batches and processes, every
    sale wrote its order row and nothing else did, and bad input is a 400."""
    await ceiling.setup(db_url, {1: 30, 2: 5})
    async with ServerProcesses(_ceiling_argv(db_url), 2, name="ceiling") as servers:
        pids = servers.pids
        result = await run_load(
            servers.urls,
            lambda i: Request("/orders", {"id": 1 + i % 2, "quantity": 1 + i % 3}),
            total=90,
            concurrency=90,
        )
        bad = await run_load(
            servers.urls,
            lambda i: Request("/orders", [] if i else {"id": "x"}),
            total=2,
            concurrency=2,
        )
    assert all(_gone(pid) for pid in pids)
    assert {o.code for o in result.outcomes} == {ACCEPTED, SOLD_OUT}
    assert {o.status for o in bad.outcomes} == {400}
    sold = {1: 0, 2: 0}
    for o in result.outcomes:
        if o.code == ACCEPTED:
            sold[1 + o.index % 2] += 1 + o.index % 3
    rows = await baseline.read_rows(db_url)
    assert rows == {1: (30, sold[1]), 2: (5, sold[2])}
    assert sold[1] == 30  # 45 requests of 1-3 units always fill 30
    assert await ceiling.order_units(db_url) == sold


async def test_a_server_that_dies_at_start_is_reported_with_its_output() -> None:
    def argv(_port: int) -> list[str]:
        return [sys.executable, "-c", "import sys; print('no database here'); sys.exit(3)"]

    with pytest.raises(ServerStartError, match="no database here") as info:
        async with ServerProcesses(argv, 1, startup_timeout=30):
            pass
    assert "exited with code 3" in str(info.value)


def test_retry_after_is_read_in_seconds_only() -> None:
    from hub.bench.load import _seconds

    assert _seconds("1") == 1.0 and _seconds("0.5") == 0.5 and _seconds("-3") == 0.0
    assert _seconds(None) is None and _seconds("") is None
    assert _seconds("Wed, 21 Oct 2026 07:28:00 GMT") is None
