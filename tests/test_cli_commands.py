"""Commands shipped beside the hub (the bridge's, the sandbox's) join ``tickethub``
through the ``tickethub.commands`` entry points: the hub imports neither."""

from __future__ import annotations

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
