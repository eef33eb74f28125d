"""`tickethub staff`: people's console accounts (add, list, disable, passwd).

Machines keep their bearer tokens; these accounts are for people signing in to
``/console``. Every change is written to the console's audit log with the actor
``cli:<os user>``. Passwords are asked for twice without echo, or read from the first line
of standard input with ``--password-stdin`` (scripts); never given as an argument, where
they would end up in the shell history and the process list.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from hub.cli.options import DatabaseUrl
from hub.cli.options import database_url as _url
from hub.clock import SystemClock
from hub.console.roles import DEFAULT_LANGUAGE, LANGUAGES, Role
from hub.console.staff import Staff, StaffError, StaffService, check_password
from hub.storage.db import create_admin_engine, probe

T = TypeVar("T")

app = typer.Typer(
    no_args_is_help=True, help="Staff accounts of the console (people, not machines)."
)

PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _run(database_url: str | None, action: Callable[[StaffService], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_admin_engine(_url(database_url))
        try:
            await probe(engine)
            return await action(StaffService(engine, SystemClock()))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except StaffError as exc:
        typer.echo(f"tickethub: error: {exc}", err=True)
        raise typer.Exit(2) from None


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return check_password(password)
    except StaffError as exc:
        typer.echo(f"tickethub: error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[Role, typer.Option("--role", help="What the person may do.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    language: Annotated[
        str, typer.Option("--language", help=f"Console language: {', '.join(LANGUAGES)}.")
    ] = DEFAULT_LANGUAGE,
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a staff account."""
    password = _password(password_stdin)
    staff = _run(
        database_url,
        lambda s: s.add(
            username, password, role.value, display_name=name, language=language, actor=_actor()
        ),
    )
    typer.echo(f"Added {staff.username} ({staff.role.value}).")


@app.command("list")
def list_staff(database_url: DatabaseUrl = None) -> None:
    """List staff accounts."""
    accounts: list[Staff] = _run(database_url, lambda s: s.list())
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 160))
    if not accounts:
        console.print("No staff accounts yet: tickethub staff add NAME --role admin")
        return
    table = Table(header_style="bold")
    for column in ("username", "name", "role", "language", "state", "last sign-in (UTC)"):
        table.add_column(column)
    for a in accounts:
        table.add_row(
            a.username,
            a.display_name,
            a.role.value,
            a.language,
            "disabled" if a.disabled else "active",
            a.last_login_at.strftime("%Y-%m-%d %H:%M") if a.last_login_at else "-",
        )
    console.print(table)


@app.command("disable")
def disable(
    username: Annotated[str, typer.Argument(help="Login name.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Disable an account; its open console sessions end at their next request."""
    _run(database_url, lambda s: s.disable(username, actor=_actor()))
    typer.echo(f"Disabled {username}.")


@app.command("passwd")
def passwd(
    username: Annotated[str, typer.Argument(help="Login name.")],
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Set a new password; sessions signed in with the old one end."""
    password = _password(password_stdin)
    _run(database_url, lambda s: s.set_password(username, password, actor=_actor()))
    typer.echo(f"New password set for {username}.")
