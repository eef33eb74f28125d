"""A spec folder loads only channel specs (``*.toml`` with a ``[channel]`` table): a
``pyproject.toml`` or other files beside the specs are skipped, not fatal; and
``tickethub channels check FILE`` validates one file as the hub would load it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from typer.testing import CliRunner

from hub.channels import SpecError, load_all
from hub.cli import app as cli
from tests.support import hub_client

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "channel_specs" / "tripnest.toml"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """What an integrator's spec repository looks like: the spec, its packaging, notes."""
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(EXAMPLE, specs / "tripnest.toml")
    shutil.copy(PYPROJECT, specs / "pyproject.toml")
    (specs / "ruff.toml").write_text('line-length = 100\n[lint]\nselect = ["E"]\n')
    (specs / "README.md").write_text("# our partner specs\n")
    (specs / ".#tripnest.toml").write_text("an editor's lock file")
    return specs


def test_a_folder_loads_its_specs_and_skips_everything_else(folder: Path) -> None:
    assert list(load_all(folder)) == ["tripnest"]  # was: SpecError on pyproject.toml


def test_a_broken_spec_in_the_folder_still_fails_naming_its_file(folder: Path) -> None:
    (folder / "broken.toml").write_text("[channel\nname = 'broken'\n")
    with pytest.raises(SpecError, match=r"^broken\.toml: not valid TOML"):
        load_all(folder)
    (folder / "broken.toml").write_text('[channel]\nname = "broken"\n')
    with pytest.raises(SpecError, match=r"^broken\.toml: "):
        load_all(folder)


async def test_a_hub_serves_the_spec_channels_of_such_a_folder(
    aiohttp_client: Any, sqlite_url: str, folder: Path
) -> None:
    client: TestClient = await hub_client(
        aiohttp_client, sqlite_url, channel_specs_dirs=[str(folder)]
    )
    resp = await client.post("/api/channels/tripnest/book", data=b"{}")
    assert resp.status != 404  # the channel is there (it refuses the unsigned body itself)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["channels", "check", *args])


def test_channels_check_says_ok_for_a_valid_spec() -> None:
    result = run(str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"OK {EXAMPLE}: channel 'tripnest', 6 operations, ")


def test_channels_check_prints_the_precise_error(tmp_path: Path) -> None:
    typo = tmp_path / "tripnest.toml"
    typo.write_text(EXAMPLE.read_text().replace('"data", "$secret"', '"dataa", "$secret"'))
    result = run(str(typo))
    assert result.exit_code == 1
    assert "ERROR tripnest.toml: signing.inbound.fields[2]: unknown field 'dataa'" in (
        result.output
    )

    renamed = tmp_path / "other.toml"
    shutil.copy(EXAMPLE, renamed)
    result = run(str(renamed))
    assert result.exit_code == 1
    assert "ERROR other.toml: channel.name: 'tripnest' must equal 'other'" in result.output

    result = run(str(PYPROJECT))
    assert result.exit_code == 1
    assert "ERROR pyproject.toml: not a channel spec: no [channel] table" in result.output

    result = run(str(tmp_path / "missing.toml"), str(EXAMPLE))
    assert result.exit_code == 1  # one bad file fails the check; the good one is still OK
    assert "missing.toml: no such file" in result.output and "OK " in result.output


def test_channels_check_names_a_scheme_no_installed_plugin_registers(tmp_path: Path) -> None:
    unknown = tmp_path / "tripnest.toml"
    unknown.write_text(EXAMPLE.read_text().replace('"base64"', '"rot13"', 1))
    result = run(str(unknown))
    assert result.exit_code == 1
    assert "ERROR tripnest.toml: envelope.body_encoding: unknown codec 'rot13'" in result.output


def test_channels_schema_writes_and_checks_the_json_schema(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    cli_run = CliRunner().invoke
    assert cli_run(cli, ["channels", "schema", str(target), "--check"]).exit_code == 1
    assert cli_run(cli, ["channels", "schema", str(target)]).exit_code == 0
    assert cli_run(cli, ["channels", "schema", str(target), "--check"]).exit_code == 0
