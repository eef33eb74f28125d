"""The import contracts of pyproject.toml hold (issue 12): plugins and the venue bridge
build on `hub.sdk` and `hub.domain` only; the hub imports neither the plugins, the bridge
nor the sandbox; `hub.domain` does no I/O. `make test` runs this, so a forbidden import
fails the suite like any other bug.

`hub.testing` (the conformance kit) is not part of the SDK: it starts hubs and creates
databases, so it needs the whole hub; plugin code never imports it (the first contract
forbids it), plugin *tests* do, and tests are free. As part of ``hub`` it is held by the
second contract (it must not import the plugins, the bridge or the sandbox either).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import hub

ROOT = Path(__file__).resolve().parent.parent
LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(no_cache=True, no_logo=True))"
)


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def _hub_children() -> set[str]:
    """Every module and package directly under ``hub``."""
    root = Path(hub.__file__).parent
    names = {p.stem for p in root.glob("*.py") if p.stem not in {"__init__", "__main__"}}
    names |= {p.name for p in root.iterdir() if (p / "__init__.py").is_file()}
    return {f"hub.{n}" for n in names}


def test_the_import_contracts_hold() -> None:
    # In a child process: import-linter configures logging, which would disable the
    # loggers of modules this worker already imported (and fail later tests' caplog).
    run = subprocess.run(
        [sys.executable, "-c", LINT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_contract_lists_exceptions() -> None:
    for cid, contract in _contracts().items():
        assert not contract.get("ignore_imports"), f"{cid} lists exceptions"


@pytest.mark.parametrize(
    ("contract_id", "allowed"),
    [
        ("plugins-use-the-sdk", {"hub.sdk", "hub.domain"}),
        ("pure-domain", {"hub.domain"}),
    ],
)
def test_forbidden_lists_name_every_other_hub_module(contract_id: str, allowed: set[str]) -> None:
    """A new module of ``hub`` is forbidden unless someone decides otherwise: the lists
    must name every module of ``hub`` but the allowed ones."""
    forbidden = {m for m in _contracts()[contract_id]["forbidden_modules"] if m.startswith("hub")}  # type: ignore[attr-defined]
    assert forbidden == _hub_children() - allowed, os.linesep.join(
        [
            f"missing: {sorted(_hub_children() - allowed - forbidden)}",
            f"not in hub: {sorted(forbidden - _hub_children())}",
        ]
    )
