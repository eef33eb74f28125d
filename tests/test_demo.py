"""`tickethub demo --exit`: the whole scenario runs, and its verdict is what it says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hub.testing.processes import free_port

# One process (the demo runs its hub, bridge and simulators in-process): no burst of hubs,
# so it runs beside the `processes` chain instead of lengthening it (tests/conftest.py).
# Its bounds are hang guards, wide enough for two suites on two cores: a passing demo
# returns when it is done, whatever the bound.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("demo"), pytest.mark.timeout(900)]

DENIAL_CODES = (
    "SOLD_OUT",
    "IDEMPOTENCY_CONFLICT",
    "INVALID_ID_NUMBER",
    "ID_DAILY_LIMIT",
    "AGE_NOT_ELIGIBLE",
    "GROUP_TOO_SMALL",
    "BOOKING_CLOSED",
)


def test_demo_runs_and_checks_itself(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETHUB_")}
    env["COLUMNS"] = "160"  # rich wraps at 80 columns without a terminal
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub",
            "demo",
            "--exit",
            "--port",
            str(free_port()),
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        timeout=840,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "RESULT: OK" in out
    assert "oversold = 0" in out
    for code in DENIAL_CODES:
        assert code in out, f"{code} missing from the summary"
    assert "Idempotent-Replay" in out
    assert "in park (hub flow counters)" in out  # the gates step ran through the venue bridge
    assert "lost 0, twice 0" in out  # the outage drill ran (`tickethub drill outage`)
    assert re.search(r"report emergency +10 orders, 20 sold", out), out[-2000:]
    # the rush raised and cleared the crowd alert, and the console's demo login is printed
    assert "the WeCom robot received exactly one opening and one clearing message" in out
    assert re.search(r"console +http://127\.0\.0\.1:\d+/console/", out), out[-600:]
    assert re.search(r"console sign-in: demo / \S{8,} \(supervisor\)", out), out[-600:]
    assert db.exists()
