"""Commands shipped beside the hub (the bridge's, the sandbox's) join ``tickethub``
through the ``tickethub.commands`` entry points: the hub imports neither."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata

import pytest
import typer
from typer.testing import CliRunner

import hub.cli
from hub.cli import COMMANDS_GROUP, app


def hello() -> None:
    """Say hello (a command an entry point names)."""
    typer.echo("hello")


def test_the_bridge_and_the_sandbox_commands_come_from_entry_points() -> None:
    names = {ep.name for ep in metadata.entry_points(group=COMMANDS_GROUP)}
    shipped = {"bridge", "device", "demo", "drill", "bench.sync", "bench.scans", "bench.failover"}
    assert shipped <= names
    runner = CliRunner()
    for args in (["bridge", "--help"], ["device", "--help"], ["demo", "--help"]):
        assert runner.invoke(app, args).exit_code == 0, args
    assert "sync" in runner.invoke(app, ["bench", "--help"]).output
    drill = runner.invoke(app, ["drill", "outage", "--help"])
    assert drill.exit_code == 0 and "--json" in drill.output, drill.output


def test_a_command_that_does_not_load_is_left_out_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = [
        metadata.EntryPoint("tools.hello", f"{__name__}:hello", COMMANDS_GROUP),
        metadata.EntryPoint("broken", "no_such_module_anywhere:app", COMMANDS_GROUP),
        metadata.EntryPoint("nowhere.cmd", f"{__name__}:hello", COMMANDS_GROUP),
    ]
    monkeypatch.setattr(hub.cli.metadata, "entry_points", lambda group: entries)
    root, tools = typer.Typer(), typer.Typer()
    root.add_typer(tools, name="tools")
    hub.cli._entry_point_commands(root, {"tools": tools})
    err = capsys.readouterr().err
    assert "command broken not loaded" in err and "ModuleNotFoundError" in err
    assert "command nowhere.cmd: no group 'nowhere'" in err
    result = CliRunner().invoke(root, ["tools", "hello"])
    assert result.exit_code == 0 and result.output == "hello\n"


def test_the_root_help_lists_every_command_builtin_entry_point_and_plugin() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"TICKETHUB_DEV": "1"})
    assert result.exit_code == 0, result.output
    listed = set(re.findall(r"^│ ([a-z][a-z-]*) ", result.output, flags=re.MULTILINE))
    builtin = set(hub.cli.BUILTIN)
    entry_points = {"bridge", "device", "demo", "drill"}
    assert builtin | entry_points | {"agency"} <= listed, listed


@pytest.mark.parametrize("args", [["serve", "--help"], ["db", "current", "--help"]])
def test_a_command_loads_only_its_own_modules(args: list[str]) -> None:
    """Each ``tickethub`` start imported every command's module (SQLAlchemy, Alembic,
    aiohttp, the channel specs, every plugin: ~1.5 s of CPU); now only the one run."""
    probe = (
        "import json, sys\n"
        "from hub.cli import main\n"
        f"sys.argv = ['tickethub', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('sqlalchemy', 'alembic', 'aiohttp', 'hub.storage', 'hub.channels',"
        " 'hub.sdk', 'plugins', 'hardware_bridge', 'sandbox')\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETHUB_")}
    ran = subprocess.run(
        [sys.executable, "-c", probe],
        env={**env, "TICKETHUB_DEV": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(ran.stdout.splitlines()[-1]) == [], ran.stdout
