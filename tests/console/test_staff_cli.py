"""`tickethub staff add|list|disable|passwd` against a real database (in-process, typer's
CliRunner): accounts are created with a hashed password, listed, disabled and given a
new password; each change is in the audit log; mistakes are one clear line, exit 2."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from hub.cli import app
from hub.clock import SystemClock
from hub.console.audit import recent
from hub.console.staff import StaffService
from hub.storage.db import create_engine


def _service_call(url: str, call):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        engine = create_engine(url)
        try:
            return await call(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_staff_commands(sqlite_url: str) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    db = ["--database-url", sqlite_url]
    assert runner.invoke(app, ["db", "upgrade", *db]).exit_code == 0

    result = runner.invoke(
        app,
        ["staff", "add", "li.wei", "--role", "operator", "--name", "李伟", *db],
        input="first password\nfirst password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Added li.wei (operator)." in result.stdout
    assert "first password" not in result.stdout  # typed without echo

    result = runner.invoke(
        app,
        ["staff", "add", "boss", "--role", "admin", "--language", "en", "--password-stdin", *db],
        input="second password\n",
    )
    assert result.exit_code == 0, result.output

    listed = runner.invoke(app, ["staff", "list", *db])
    assert listed.exit_code == 0, listed.output
    lines = [ln for ln in listed.stdout.splitlines() if "li.wei" in ln or "boss" in ln]
    assert len(lines) == 2
    assert "李伟" in lines[1] and "operator" in lines[1] and "active" in lines[1]
    assert "admin" in lines[0] and "en" in lines[0]

    def authenticate(name: str, password: str):  # type: ignore[no-untyped-def]
        return _service_call(
            sqlite_url, lambda e: StaffService(e, SystemClock()).authenticate(name, password)
        )

    assert authenticate("li.wei", "first password") is not None
    result = runner.invoke(
        app, ["staff", "passwd", "li.wei", "--password-stdin", *db], input="third password\n"
    )
    assert result.exit_code == 0, result.output
    assert authenticate("li.wei", "first password") is None
    assert authenticate("li.wei", "third password") is not None

    result = runner.invoke(app, ["staff", "disable", "li.wei", *db])
    assert result.exit_code == 0 and "Disabled li.wei." in result.stdout
    assert authenticate("li.wei", "third password") is None
    assert "disabled" in runner.invoke(app, ["staff", "list", *db]).stdout

    entries = _service_call(sqlite_url, recent)
    assert [(e.action, e.target) for e in reversed(entries)] == [
        ("staff.add", "staff:li.wei"),
        ("staff.add", "staff:boss"),
        ("staff.passwd", "staff:li.wei"),
        ("staff.disable", "staff:li.wei"),
    ]
    assert all(e.actor.startswith("cli") for e in entries)
    disable = entries[0]
    assert disable.before is not None and disable.after is not None
    assert (disable.before["disabled"], disable.after["disabled"]) == (False, True)
    assert all("password" not in str(e.after) for e in entries)  # never the hash


def test_staff_command_mistakes(sqlite_url: str) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    db = ["--database-url", sqlite_url]
    assert runner.invoke(app, ["db", "upgrade", *db]).exit_code == 0
    add = ["staff", "add", "amy", "--role", "viewer", "--password-stdin", *db]
    for args, stdin, message in (
        (add, "short\n", "a password has 8 to 1024 characters"),
        (
            ["staff", "add", "a b", "--role", "viewer", "--password-stdin", *db],
            "long enough\n",
            "a username is",
        ),
        ([*add[:-2], "--language", "fr", *db], "long enough\n", "language must be one of"),
        (["staff", "disable", "nobody", *db], "", "no staff account 'nobody'"),
    ):
        result = runner.invoke(app, args, input=stdin)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, result.stderr
        assert "Traceback" not in result.output
    assert runner.invoke(app, add, input="long enough\n").exit_code == 0
    again = runner.invoke(app, add, input="long enough\n")
    assert again.exit_code == 2 and "exists already" in again.stderr
    bad_role = runner.invoke(app, ["staff", "add", "x", "--role", "king", *db])
    assert bad_role.exit_code == 2 and "king" in bad_role.output
