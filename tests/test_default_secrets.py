"""Outside ``TICKETHUB_DEV=1`` the hub and the bridge refuse to start on the public
development secrets.

One case per behaviour runs the real command line (``python -m hub serve`` / ``python -m
hub bridge run`` as subprocesses, with a clean environment): the refusal of each, and each
starting with its own secrets. The variants (which settings a refusal names, the
development-mode warning) run in-process through the same code the process runs — the
settings read from the environment, `refuse_default_secrets`, and `hub.cli.errors.explain`
for the one line — since a process start costs seconds of CPU and tells nothing more.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hardware_bridge.settings import BridgeSettings
from hub.cli.errors import explain
from hub.devmode import DefaultSecretsError, refuse_default_secrets
from hub.settings import Settings
from hub.testing.processes import ServerProcesses, free_port, python_module_argv

pytestmark = pytest.mark.timeout(120)

HUB_SECRETS = [
    "TICKETHUB_ADMIN_TOKEN",
    "TICKETHUB_BOXOFFICE_TOKEN",
    "TICKETHUB_ID_HASH_SECRET",
    "TICKETHUB_FACE_KEY",
    "TICKETHUB_ID_NUMBER_KEY",
    "TICKETHUB_CONSOLE_SESSION_KEY",
]


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def own_hub_secrets() -> dict[str, str]:
    return {
        "TICKETHUB_ADMIN_TOKEN": secrets.token_hex(16),
        "TICKETHUB_BOXOFFICE_TOKEN": secrets.token_hex(16),
        "TICKETHUB_ID_HASH_SECRET": secrets.token_hex(32),
        "TICKETHUB_FACE_KEY": _key(),
        "TICKETHUB_ID_NUMBER_KEY": _key(),
        "TICKETHUB_CONSOLE_SESSION_KEY": _key(),
    }


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command in a clean environment: no TICKETHUB_* of the test session (which sets
    TICKETHUB_DEV=1) or of the developer's shell, plus `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TICKETHUB_")}
    return subprocess.run(
        python_module_argv("hub", *args),
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _serve(port: int) -> list[str]:
    return python_module_argv("hub", "serve", "--port", str(port))


def _bridge(port: int) -> list[str]:
    return python_module_argv("hub", "bridge", "run", "--venue", "v1", "--port", str(port))


def _bridge_env() -> dict[str, str]:
    # a hub that is not there: the bridge starts offline, which is all this test needs
    return {"TICKETHUB_BRIDGE_HUB_URL": f"http://127.0.0.1:{free_port()}"}


def _refusal(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def _only_env(monkeypatch: pytest.MonkeyPatch, cwd: Path, env: dict[str, str]) -> None:
    """The in-process twin of `_run`'s clean environment (no ``.env`` either)."""
    for name in [n for n in os.environ if n.startswith("TICKETHUB_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(cwd)


@contextmanager
def _warnings(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The development-mode warning, captured on its own logger (whatever logging set-up
    another test of this worker left behind, e.g. ``hub`` not propagating)."""
    logger = logging.getLogger("hub.devmode")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level("WARNING", logger="hub.devmode"):
            yield
    finally:
        logger.removeHandler(caplog.handler)


def _refusal_in_process(what: str, unset: list[str]) -> str:
    """What ``serve`` / ``bridge run`` do before they open anything, and the one line the
    command group prints for it."""
    with pytest.raises(DefaultSecretsError) as raised:
        refuse_default_secrets(what, unset)
    line = explain(raised.value)
    assert line is not None
    return f"tickethub: error: {line}"


def test_serve_refuses_every_default_secret(tmp_path: Path) -> None:
    line = _refusal(_run(["serve", "--port", str(free_port())], tmp_path, {}))
    assert line.startswith("tickethub: error: hub refuses to start with development"), line
    for name in HUB_SECRETS:
        assert name in line, line
    assert "TICKETHUB_DEV=1" in line
    assert not (tmp_path / "var").exists()  # refused before the database was touched


def test_serve_names_only_the_settings_still_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = own_hub_secrets()
    del given["TICKETHUB_FACE_KEY"], given["TICKETHUB_ID_NUMBER_KEY"]
    del given["TICKETHUB_CONSOLE_SESSION_KEY"]
    given["TICKETHUB_BOXOFFICE_TOKEN"] = "dev-boxoffice-token"  # the default, spelt out
    _only_env(monkeypatch, tmp_path, given)
    line = _refusal_in_process("hub", Settings().default_secrets())
    assert line.startswith("tickethub: error: hub refuses to start with development"), line
    named = {n for n in HUB_SECRETS if n in line}
    assert named == {
        "TICKETHUB_BOXOFFICE_TOKEN",
        "TICKETHUB_FACE_KEY",
        "TICKETHUB_ID_NUMBER_KEY",
        "TICKETHUB_CONSOLE_SESSION_KEY",
    }


async def test_serve_starts_with_its_own_secrets() -> None:
    async with ServerProcesses(_serve, env=own_hub_secrets(), name="hub") as hub:
        assert hub.returncodes() == [None]
        assert "development secrets" not in hub.log_tail(0, lines=1000)


def test_serve_starts_in_dev_mode_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _only_env(monkeypatch, tmp_path, {"TICKETHUB_DEV": "1"})
    with _warnings(caplog):
        refuse_default_secrets("hub", Settings().default_secrets())  # no refusal
    warning = next(r for r in caplog.records if "development secrets" in r.getMessage())
    assert warning.levelname == "WARNING"
    for name in HUB_SECRETS:
        assert name in warning.getMessage()


def test_bridge_run_refuses_the_default_staff_token(tmp_path: Path) -> None:
    line = _refusal(_run(_bridge(free_port())[3:], tmp_path, _bridge_env()))
    assert line.startswith("tickethub: error: bridge refuses to start with development"), line
    assert "TICKETHUB_BRIDGE_ADMIN_TOKEN" in line
    assert not (tmp_path / "var").exists()


async def test_bridge_run_starts_with_its_own_token() -> None:
    own = {**_bridge_env(), "TICKETHUB_BRIDGE_ADMIN_TOKEN": secrets.token_hex(16)}
    async with ServerProcesses(_bridge, env=own, health_path="/status", name="bridge") as b:
        assert "development secrets" not in b.log_tail(0)


def test_bridge_run_starts_in_dev_mode_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _only_env(monkeypatch, tmp_path, {**_bridge_env(), "TICKETHUB_DEV": "1"})
    with _warnings(caplog):
        refuse_default_secrets("bridge", BridgeSettings().default_secrets())  # no refusal
    assert any(
        "development secrets" in r.getMessage()
        and "TICKETHUB_BRIDGE_ADMIN_TOKEN" in r.getMessage()
        for r in caplog.records
    ), caplog.text
