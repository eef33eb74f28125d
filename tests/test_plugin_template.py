"""`tickethub plugin new`: what it writes, and that what it writes is a working plugin.

The slow test does what a plugin author does, offline: generate a plugin of each kind,
pip-install it (``--no-index --no-build-isolation --no-deps``) into a fresh virtualenv
that sees this project's environment through a ``.pth`` file (so tickethub, pytest and
setuptools come from here and nothing is fetched), run its own tests in a subprocess,
and find it in ``tickethub plugins``. Then it breaks each skeleton where its kit must
notice — a device driver that accepts forged reports, an alert sink that swallows a
refusal, a channel that registers nothing — and sees the plugin's own tests fail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.cli.plugin_new import Kind, PluginNames, render

BIN = Path(sys.executable).parent
KINDS = list(Kind)


def _child_env() -> dict[str, str]:
    """This environment without what belongs to this pytest run (xdist, addopts)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_a_plugin_of_each_kind_is_a_package_with_its_entry_point(
    tmp_path: Path, kind: Kind
) -> None:
    result = CliRunner().invoke(app, ["plugin", "new", str(kind), "acme", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = PluginNames(kind, "acme")
    root = tmp_path / names.distribution
    assert f"wrote {root}" in result.output
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == names.distribution
    assert project["project"]["entry-points"]["tickethub"] == {names.entry_point: names.package}
    pytest_ini = project["tool"]["pytest"]["ini_options"]
    assert pytest_ini["asyncio_mode"] == "auto"
    assert (root / "README.md").is_file() and (root / names.package / "__init__.py").is_file()
    tests = sorted(p.name for p in (root / "tests").glob("test_*.py"))
    assert tests == ["test_conformance.py"]
    for path in root.rglob("*.py"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")  # rendered, valid Python
    lint = subprocess.run(
        [str(BIN / "ruff"), "check", "--quiet", "."], cwd=root, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    formatted = subprocess.run(
        [str(BIN / "ruff"), "format", "--check", "--quiet", "."],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_the_channel_s_spec_is_named_after_it_and_valid(tmp_path: Path) -> None:
    root = render(Kind.channel, "acme", tmp_path)
    result = CliRunner().invoke(
        app, ["channels", "check", str(root / "tickethub_channel_acme" / "acme.toml")]
    )
    assert result.exit_code == 0, result.output
    assert "channel 'acme', 6 operations, 2 callbacks" in result.output


def test_a_bad_name_or_an_existing_folder_is_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["plugin", "new", "device", "Acme-1", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "lower-case letters" in bad.output
    assert not any(tmp_path.iterdir())
    assert (
        runner.invoke(app, ["plugin", "new", "alert", "acme", "--dir", str(tmp_path)]).exit_code
        == 0
    )
    again = runner.invoke(app, ["plugin", "new", "alert", "acme", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.output
    unknown = runner.invoke(app, ["plugin", "new", "printer", "acme", "--dir", str(tmp_path)])
    assert unknown.exit_code == 2


def test_tickethub_plugins_lists_alert_sinks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICKETHUB_BLOCKED_PLUGINS", raising=False)
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    registered = json.loads(result.stdout)["registrations"]
    assert {
        "kind": "alert sink",
        "name": "webhook",
        "source": "alert_webhook",
        "default": True,
    } in (registered)


# -- the whole way, offline ---------------------------------------------------------------


def fresh_venv(where: Path) -> Path:
    """A virtualenv without pip that sees this project's site-packages (tickethub
    editable, pytest, setuptools) through a .pth; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    (Path(site) / "tickethub_project.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


def pip_install(python: Path, *packages: Path) -> None:
    """Offline and editable (the skeleton is broken in place below); one pip for all of
    them — each pip start costs a second or two of CPU."""
    editables = [arg for package in packages for arg in ("-e", str(package))]
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--no-index", "--no-build-isolation", "--no-deps", *editables),
        ],
        capture_output=True,
        text=True,
        env=_child_env(),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def run_tests(python: Path, package: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *args],
        cwd=package,
        capture_output=True,
        text=True,
        env=_child_env(),
        timeout=600,
    )


def run_tests_side_by_side(
    python: Path, roots: dict[Kind, Path]
) -> dict[Kind, subprocess.CompletedProcess[str]]:
    """Each plugin's own tests, the three runs at once (they share nothing: own folders,
    a temporary directory each, ports of the kernel's choosing); what `run_tests` returns
    for each. Side by side, the test waits for the slowest run, not for the sum."""
    with ThreadPoolExecutor(max_workers=len(roots)) as pool:
        futures = {
            kind: pool.submit(run_tests, python, root, f"--basetemp={root}-tmp")
            for kind, root in roots.items()
        }
        return {kind: future.result() for kind, future in futures.items()}


def break_skeleton(path: Path, working: str, broken: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert working in text, f"{path}: {working!r} not found (the template changed?)"
    path.write_text(text.replace(working, broken), encoding="utf-8")


# One chain of single processes (pip, then each plugin's pytest), no burst of hubs: its
# own group, beside the `processes` chain (tests/conftest.py); pytest-timeout's bound is
# a hang guard wide enough for two suites on two cores.
@pytest.mark.slow
@pytest.mark.xdist_group("plugin-template")
@pytest.mark.timeout(900)
def test_generated_plugins_install_offline_pass_their_tests_and_are_listed(
    tmp_path: Path,
) -> None:
    python = fresh_venv(tmp_path / "venv")
    roots = {kind: render(kind, "acme", tmp_path / "plugins") for kind in KINDS}
    pip_install(python, *roots.values())

    passed = {}
    runs = run_tests_side_by_side(python, roots)
    for kind, done in runs.items():
        assert done.returncode == 0, f"{kind}:\n{done.stdout}\n{done.stderr}"
        assert " failed" not in done.stdout and " error" not in done.stdout
        passed[kind] = done.stdout.strip().splitlines()[-1]
    # every check of the device and alert kits ran (none skipped); the channel's ran on
    # SQLite at least (PostgreSQL when it answers)
    assert passed[Kind.device].startswith("6 passed"), passed
    assert passed[Kind.alert].startswith("6 passed"), passed
    assert "skipped" not in passed[Kind.device] + passed[Kind.alert], passed
    assert passed[Kind.channel].split()[1] == "passed", passed

    listed = subprocess.run(
        [str(python), "-m", "hub", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=_child_env(),
        check=True,
    )
    doc = json.loads(listed.stdout)
    plugins = {p["name"]: p for p in doc["plugins"]}
    registered = {(r["kind"], r["name"], r["source"]) for r in doc["registrations"]}
    for kind in KINDS:
        names = PluginNames(kind, "acme")
        assert plugins[names.entry_point]["distribution"] == names.distribution
        assert plugins[names.entry_point]["version"] == "0.1.0"
    assert ("channel", "acme", "channel_acme") in registered
    assert ("device driver", "acme", "device_acme") in registered
    assert ("alert sink", "acme", "alert_acme") in registered
    assert doc["broken"] == []

    # Broken skeletons: each kit must notice.
    break_skeleton(
        roots[Kind.device] / "tickethub_device_acme" / "driver.py",
        "if not hmac.compare_digest(sent, signature(self._secret(device), raw)):",
        "if False:",
    )
    done = run_tests(python, roots[Kind.device])
    assert done.returncode == 1, done.stdout
    assert "FAILED tests/test_conformance.py::TestConformance::test_a_forged_report" in done.stdout
    assert "5 passed" in done.stdout  # only the forged-report check caught it

    break_skeleton(
        roots[Kind.alert] / "tickethub_alert_acme" / "__init__.py",
        "        if not 200 <= status < 300:",
        "        if False:",
    )
    done = run_tests(python, roots[Kind.alert])
    assert done.returncode == 1, done.stdout
    assert "test_a_refused_message_is_not_retried" in done.stdout

    break_skeleton(
        roots[Kind.channel] / "tickethub_channel_acme" / "__init__.py",
        "    registry.add(AcmeChannel.name, AcmeChannel())",
        "    pass",
    )
    done = run_tests(python, roots[Kind.channel], "-x", "-k", "valid_order and sqlite")
    assert done.returncode == 1, done.stdout
    assert "test_a_valid_order_takes_stock" in done.stdout


# -- the guide ------------------------------------------------------------------------------

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def _fenced(lang: str) -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_the_guide_s_pytest_settings_are_the_generated_ones(tmp_path: Path) -> None:
    (block,) = [b for b in _fenced("toml") if "[tool.pytest.ini_options]" in b]
    guide = tomllib.loads(block)["tool"]["pytest"]["ini_options"]
    root = render(Kind.device, "acme", tmp_path)
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert guide == project["tool"]["pytest"]["ini_options"]


def test_every_tickethub_command_in_the_guide_exists() -> None:
    """Each ``tickethub …`` of the guide, in a shell block or inline: its command path
    answers ``--help`` and knows every ``--option`` the guide gives it."""
    text = GUIDE.read_text(encoding="utf-8")
    lines = [line.strip() for b in _fenced("sh") for line in b.splitlines()]
    lines += [" ".join(m.split()) for m in re.findall(r"`(tickethub [^`]+)`", text)]
    commands = [line.split("#")[0].split() for line in lines if line.startswith("tickethub ")]
    assert len(commands) >= 8, commands
    runner = CliRunner()
    for words in commands:
        path = [w for w in words[1:] if not w.startswith("-")][:2]
        result = runner.invoke(app, [*path, "--help"])
        if result.exit_code != 0:  # a one-word command followed by an argument
            result = runner.invoke(app, [path[0], "--help"])
        assert result.exit_code == 0, (words, result.output)
        for option in (w.split("=")[0] for w in words if w.startswith("--")):
            assert option in result.output, (words, option)
