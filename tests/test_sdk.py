"""`hub.sdk` is the room plugins and the bridge build on (issue 12): its light parts load
no web stack beyond aiohttp, no order service and no storage, so the venue bridge does
not drag the hub's database layer in, and `hub.domain` loads nothing else of the hub."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import hub.sdk
import hub.sdk.alerts
import hub.sdk.channels
import hub.sdk.commands
import hub.sdk.drivers
import hub.sdk.faces
import hub.sdk.runtime
import hub.sdk.web

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("hub.storage", "hub.orders", "hub.outbox", "hub.api", "hub.channels", "sqlalchemy")


def _loaded_after(*modules: str) -> list[str]:
    """The modules a fresh interpreter holds after importing ``modules``."""
    code = (
        "import importlib, json, sys\n"
        f"for m in {list(modules)!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize(
    "module",
    [
        "hub.sdk",
        "hub.sdk.web",
        "hub.sdk.drivers",
        "hub.sdk.alerts",
        "hub.sdk.faces",
        "hub.sdk.runtime",
        "hub.sdk.commands",
        "hardware_bridge.app",
    ],
)
def test_the_light_parts_load_no_services_and_no_storage(module: str) -> None:
    loaded = _loaded_after(module)
    heavy = [m for m in loaded if m.startswith(HEAVY)]
    assert heavy == [], f"{module} loads {heavy}"


def test_the_domain_loads_nothing_else_of_the_hub() -> None:
    loaded = _loaded_after("hub.domain")
    assert [m for m in loaded if m.startswith("hub.") and not m.startswith("hub.domain")] == []


@pytest.mark.parametrize(
    "module",
    [
        hub.sdk,
        hub.sdk.web,
        hub.sdk.alerts,
        hub.sdk.channels,
        hub.sdk.commands,
        hub.sdk.runtime,
        hub.sdk.drivers,
        hub.sdk.faces,
    ],
)
def test_every_public_name_is_there(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert len(names) == len(set(names))
    assert [n for n in names if not hasattr(module, n)] == []
