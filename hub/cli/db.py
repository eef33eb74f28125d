"""`tickethub db …`: migrate the database a deployment points at.

The same `hub.storage.migrate` functions the hub's ``serve`` runs at start-up, so what an
operator runs by hand is exactly what a starting hub does (same advisory lock, same
single transaction per migration).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

from hub.cli.options import DatabaseUrl
from hub.cli.options import database_url as _url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

# SQLAlchemy and Alembic (~0.5 s of CPU to import) are imported by the commands that run,
# not with the module: `tickethub db --help` and the CLI's other commands need neither.

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, help="Database schema migrations (Alembic).")
console = Console()


def _shown(url: str) -> str:
    """The URL for output: never print a password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _run(url: str, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `work` on a one-off engine, disposed even when the work fails."""
    from hub.storage.db import create_admin_engine, probe

    async def main() -> T:
        engine = create_admin_engine(url)
        try:
            await probe(engine)  # unreachable / missing: one clear line (hub.cli.errors)
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _revision_text(revision: str | None) -> str:
    from hub.storage import migrate

    if revision is None:
        return "[yellow]none[/] (empty database)"
    head = migrate.head_revision()
    suffix = " [green](head)[/]" if revision == head else f" [yellow](head is {head})[/]"
    return f"[bold]{revision}[/]{suffix}"


@app.command()
def upgrade(
    database_url: DatabaseUrl = None,
    revision: Annotated[str, typer.Option("--revision", help="Target revision.")] = "head",
) -> None:
    """Upgrade the schema (safe to run while other hubs start: they wait for each other)."""
    from hub.storage import migrate

    url = _url(database_url)

    async def work(engine: AsyncEngine) -> str | None:
        await migrate.upgrade(engine, revision)
        return await migrate.current(engine)

    # 0002 refuses to seal ID numbers with the public keys (DefaultSecretsError, a
    # ConfigError: one line from the command group).
    reached = _run(url, work)
    console.print(f"{_shown(url)}: upgraded to {_revision_text(reached)}")


@app.command()
def current(database_url: DatabaseUrl = None) -> None:
    """Show the revision the database is at."""
    from hub.storage import migrate

    url = _url(database_url)
    console.print(f"{_shown(url)}: {_revision_text(_run(url, migrate.current))}")


@app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
    database_url: DatabaseUrl = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Downgrade the schema. Dropped tables take their data with them, so this asks first."""
    url = _url(database_url)
    if not yes:
        typer.confirm(f"Downgrade {_shown(url)} to {revision}? Data may be lost", abort=True)
    from hub.storage import migrate

    async def work(engine: AsyncEngine) -> str | None:
        await migrate.downgrade(engine, revision)
        return await migrate.current(engine)

    reached = _run(url, work)
    console.print(f"{_shown(url)}: downgraded to {_revision_text(reached)}")
