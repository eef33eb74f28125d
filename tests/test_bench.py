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

import pytest

from hub.bench import baseline
from hub.bench.load import ACCEPTED, SOLD_OUT, Outcome, Request, percentile, run_load, summarize
from hub.testing.processes import ServerProcesses, ServerStartError, python_module_argv

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
}


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


async def test_a_server_that_dies_at_start_is_reported_with_its_output() -> None:
    def argv(_port: int) -> list[str]:
        return [sys.executable, "-c", "import sys; print('no database here'); sys.exit(3)"]

    with pytest.raises(ServerStartError, match="no database here") as info:
        async with ServerProcesses(argv, 1, startup_timeout=30):
            pass
    assert "exited with code 3" in str(info.value)
