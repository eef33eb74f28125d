"""``bench orders --processes 1,2 --lb haproxy --history N`` (issue 17, items 6 and 7):
one JSON line per process count; the bench installs nothing and says how when HAProxy
is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hub.bench.haproxy import INSTALL_HINT, haproxy_binary


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", "bench", "orders", *args],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
        env=env,
    )


def test_without_haproxy_the_bench_says_how_to_install_it(tmp_path: object) -> None:
    env = {**os.environ, "PATH": "/nonexistent"}
    proc = _run("--lb", "haproxy", "--orders", "10", env=env)
    assert proc.returncode == 2, proc.stderr
    assert "apt-get install -y haproxy" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_process_list_that_is_not_one_is_refused() -> None:
    proc = _run("--processes", "1,two")
    assert proc.returncode == 2 and "1,2,4" in proc.stderr
    proc = _run("--processes", "0")
    assert proc.returncode == 2 and "from 1 to 64" in proc.stderr


@pytest.mark.slow
def test_one_line_per_process_count_behind_haproxy_with_history() -> None:
    if haproxy_binary() is None:
        if os.environ.get("TICKETHUB_REQUIRE_HAPROXY", "") == "1":
            pytest.fail(f"TICKETHUB_REQUIRE_HAPROXY=1 but {INSTALL_HINT}")
        pytest.skip(INSTALL_HINT)
    proc = _run(
        "--processes", "1,2", "--lb", "haproxy", "--history", "500", "--orders", "120",
        "--concurrency", "16", "--json-only",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.strip()]
    assert [r["processes"] for r in lines] == [1, 2]
    for r in lines:
        assert (r["lb"], r["history"], r["oversold"], r["errors"]) == ("haproxy", 500, 0, {})
        assert r["accepted"] == 60 and r["history_load_s"] is not None
