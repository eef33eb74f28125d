"""Every bad configuration ends in one clear line on stderr, never a traceback.

Each case runs the real command line with the bad setting and reads what an operator
would read: the ``tickethub`` command group in-process (typer's CliRunner, stderr apart),
and, once per kind of outcome — a refusal in one clear line, a broken plugin's warning —
``python -m hub`` in a subprocess, which is what the script runs (a process start costs
seconds of CPU: the variants run in-process through the same command group).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from hub.cli import app
from hub.testing.processes import free_port
from tests.test_default_secrets import own_hub_secrets

ROOT = Path(__file__).resolve().parents[1]


def tickethub(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TICKETHUB_")},
        # A production configuration with its own secrets (no development-mode warning
        # line): these cases are about the other settings.
        **own_hub_secrets(),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        env=full_env,
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


class Ran:
    """What an operator sees of one command: exit status, stdout, stderr."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def cli(*args: str, env: dict[str, str] | None = None) -> Ran:
    """The ``tickethub`` command group in-process, with only ``env`` as its settings."""
    isolated: dict[str, str | None] = {k: None for k in os.environ if k.startswith("TICKETHUB_")}
    isolated.update({"TICKETHUB_DEV": "1", **(env or {})})
    result = CliRunner().invoke(app, list(args), env=isolated)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback the operator would have seen
    return Ran(result.exit_code, result.stdout, result.stderr)


def one_clear_line(result: Ran | subprocess.CompletedProcess[str], *words: str) -> str:
    """The command failed with exactly one line on stderr, naming the problem."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith("tickethub: error: "), line
    for word in words:
        assert word in line, line
    return line


def test_an_unsupported_database_url(tmp_path: Path) -> None:
    result = cli("db", "current", "--database-url", "mysql://root@127.0.0.1/hub")
    line = one_clear_line(result, "unsupported database URL", "mysql://root@127.0.0.1/hub")
    assert "postgresql://" in line  # and what would work
    garbage = cli("outbox", "list", "--database-url", "not a url")
    one_clear_line(garbage, "not a database URL")


async def test_a_plain_postgresql_url_means_asyncpg(pg_url: str) -> None:
    plain = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    assert plain.startswith("postgresql://")
    # in a thread: the command runs its own event loop
    result = await asyncio.to_thread(cli, "db", "upgrade", "--database-url", plain)
    assert result.returncode == 0, result.stderr
    assert "upgraded to" in result.stdout


def test_postgresql_unreachable() -> None:
    port = free_port()
    url = f"postgresql://postgres:s3cret@127.0.0.1:{port}/tickethub"
    result = cli("serve", "--database-url", url)
    line = one_clear_line(result, "cannot reach the database server", f"127.0.0.1:{port}")
    assert "s3cret" not in line  # never the password
    one_clear_line(cli("db", "upgrade", "--database-url", url), f"127.0.0.1:{port}")


@pytest.mark.postgres
async def test_a_missing_database(pg_url: str) -> None:
    """(pg_url: only to know the server answers; the database asked for is another.)"""
    name = f"tickethub_missing_{uuid.uuid4().hex[:8]}"
    url = make_url(pg_url).set(drivername="postgresql", database=name)
    result = tickethub("serve", "--database-url", url.render_as_string(hide_password=False))
    one_clear_line(result, f"database '{name}' does not exist", "createdb")


def test_invalid_channel_settings_json(tmp_path: Path) -> None:
    env = {
        "TICKETHUB_CHANNEL_SETTINGS": '{"ctrip": {CTRIP_ACCOUNT_ID: 1}}',
        "TICKETHUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
    }
    for command in (["serve"], ["plugins"], ["outbox", "list"]):
        result = cli(*command, env=env)
        one_clear_line(result, "TICKETHUB_CHANNEL_SETTINGS is not valid JSON")
    wrong_type = cli("serve", env={"TICKETHUB_PORT": "eighty"})
    one_clear_line(wrong_type, "TICKETHUB_PORT")


def test_a_bad_spec_file(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    good = (ROOT / "examples" / "channel_specs" / "tripnest.toml").read_text(encoding="utf-8")
    (specs / "tripnest.toml").write_text(good.replace("[envelope]", "[envelop]"), "utf-8")
    env = {
        "TICKETHUB_CHANNEL_SPECS_DIRS": f'["{specs}"]',
        "TICKETHUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
    }
    one_clear_line(cli("serve", env=env), "tripnest.toml", "envelop")
    env["TICKETHUB_CHANNEL_SPECS_DIRS"] = f'["{tmp_path / "nowhere"}"]'
    one_clear_line(cli("serve", env=env), "TICKETHUB_CHANNEL_SPECS_DIRS", "nowhere")


def test_the_hub_unreachable_for_backfill(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("paper_no,used_at,gate\nP-1,,\n", encoding="utf-8")
    hub_url = f"http://127.0.0.1:{free_port()}"
    result = cli(
        "backfill",
        str(sheet),
        "--venue",
        "v1",
        "--product",
        "adult",
        "--date",
        "2026-05-01",
        "--staff",
        "li",
        "--hub-url",
        hub_url,
    )
    one_clear_line(result, f"cannot reach the hub at {hub_url}")


def test_the_bridge_unreachable_for_device_list() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    one_clear_line(cli("device", "list", "--url", url), f"cannot reach the bridge at {url}")


def _install_broken_plugin(site: Path) -> None:
    """A third-party distribution as pip would leave it: its module (which fails to
    import) and its dist-info with the ``tickethub`` entry point."""
    (site / "gatefoo_plugin.py").write_text(
        'raise ImportError("gatefoo needs libgatefoo.so")\n', encoding="utf-8"
    )
    info = site / "gatefoo-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: gatefoo\nVersion: 1.2\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[tickethub]\ndevice_gatefoo = gatefoo_plugin\n", encoding="utf-8"
    )


def test_a_broken_third_party_plugin_is_left_out_with_a_warning_unless_strict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install_broken_plugin(site)
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}

    listed = tickethub("plugins", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    warnings = [line for line in listed.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1, listed.stderr
    assert "device_gatefoo" in warnings[0] and "gatefoo 1.2" in warnings[0]
    assert "libgatefoo.so" in warnings[0] and "left out" in warnings[0]
    assert "channel_ctrip" in listed.stdout  # the others still load

    # The refusals in-process: the same distributions found on sys.path.
    monkeypatch.syspath_prepend(str(site))
    strict = cli("plugins", "--strict")
    one_clear_line(strict, "device_gatefoo", "gatefoo 1.2", "libgatefoo.so")
    by_setting = cli(
        "serve",
        env={
            "TICKETHUB_STRICT_PLUGINS": "1",
            "TICKETHUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
        },
    )
    one_clear_line(by_setting, "device_gatefoo")


def test_a_third_party_plugin_failing_to_register_is_taken_out_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half a registration is worse than none: the channel it added before failing goes
    too, and so do its event hooks."""
    from hub.plugins import PluginLoadError, build_plugins

    site = tmp_path / "site"
    site.mkdir()
    (site / "halfway_plugin.py").write_text(
        "from hub.sdk import hookimpl\n"
        "class Channel:\n"
        "    name = 'halfway'\n"
        "@hookimpl\n"
        "def register_channels(registry):\n"
        "    registry.add('halfway', Channel())\n"
        "    raise RuntimeError('no licence key')\n"
        "@hookimpl\n"
        "def order_confirmed(order):\n"
        "    return None\n",
        encoding="utf-8",
    )
    info = site / "halfway-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: halfway\nVersion: 0.3\n", "utf-8")
    (info / "entry_points.txt").write_text("[tickethub]\nhalfway = halfway_plugin\n", "utf-8")
    monkeypatch.syspath_prepend(str(site))

    plugins = build_plugins(quiet=True)
    (broken,) = plugins.broken
    assert (broken.name, broken.distribution, broken.version) == ("halfway", "halfway", "0.3")
    assert "no licence key" in broken.error
    assert plugins.channels.find("halfway") is None
    assert plugins.pm.get_plugin("halfway") is None
    assert "ctrip" in plugins.channels.names()  # the rest is untouched
    with pytest.raises(PluginLoadError, match=r"halfway.*no licence key"):
        build_plugins(strict=True)
