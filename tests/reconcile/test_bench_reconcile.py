"""`tickethub bench reconcile`, small: every injected discrepancy found, none invented,
on SQLite and PostgreSQL; and the command's JSON line. Times are printed, never asserted."""

from __future__ import annotations

import json
import subprocess
import sys

from hub.bench.reconcile import Scenario, bench_reconcile
from hub.reconcile.matching import KINDS


def test_the_scenario_injects_every_kind_and_has_exactly_n_lines() -> None:
    scenario = Scenario(2000)
    assert len(scenario.txns) == 2000
    assert {kind for kind, _ in scenario.expected} == set(KINDS)


async def test_found_equals_injected(db_url: str) -> None:
    result = await bench_reconcile(2000, db_url)
    assert result["missed"] == [] and result["invented"] == []
    assert result["discrepancies_found"] == result["discrepancies_injected"] > 0
    assert result["lines"] == 2000 and result["reimport_new"] == 0 and result["ok"] is True


def test_the_command_prints_one_json_line() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hub", "bench", "reconcile", "--lines", "500"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert {"lines", "seconds", "discrepancies_found", "discrepancies_injected"} <= set(result)
    assert result["discrepancies_found"] == result["discrepancies_injected"]
