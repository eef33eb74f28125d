"""`tickethub bench sync`, `bench scans` and `bench failover` run end to end with a tiny
N (no timing assertions: the figures are printed, the correctness counters are
checked)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from hub.cli import app


def test_bench_sync_tiny() -> None:
    result = CliRunner().invoke(app, ["bench", "sync", "--decisions", "30"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert (line["decisions"], line["admitted"], line["lost"], line["duplicated"]) == (30, 30, 0, 0)
    assert line["unsynced_left"] == 0


def test_bench_scans_tiny() -> None:
    result = CliRunner().invoke(app, ["bench", "scans", "--scans", "20"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    for phase in ("offline", "online", "qrhttp_offline"):
        assert (line[phase]["scans"], line[phase]["admitted"]) == (20, 20)
        assert line[phase]["p99_ms"] >= line[phase]["p50_ms"] > 0


def test_bench_scans_spread_over_many_readers() -> None:
    result = CliRunner().invoke(app, ["bench", "scans", "--scans", "12", "--readers", "4"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    qr = line["qrhttp_offline"]
    assert (qr["readers"], qr["scans"], qr["admitted"]) == (4, 12, 12)


def test_bench_failover_one_short_cycle() -> None:
    args = ["bench", "failover", "--cycles", "1", "--heartbeat", "0.5", "--hub-timeout", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert (line["lost"], line["duplicated"], line["unsynced_left"]) == (0, 0, 0)
    assert line["decisions"] == 3 and line["switches"] >= 4  # over, back, over, back
    for phase in ("hub_back_to_online_s", "failover_refused_to_synced_s", "failback_s"):
        assert len(line[phase]["all"]) == 1
