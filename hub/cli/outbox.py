"""`tickethub outbox`: look at the partner calls and replay dead letters.

Dead letters need a person: the partner refused a call for good, or stayed down past the
call's deadline. Once the cause is fixed, ``retry`` puts them back in the queue with a
fresh deadline, and the running hub's workers pick them up at their next poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.cli.options import DatabaseUrl
from hub.cli.options import database_url as _url
from hub.clock import SystemClock
from hub.outbox.policy import DEFAULT_POLICY, RetryPolicy, policies_from
from hub.outbox.store import OutboxEntry, OutboxStore
from hub.settings import Settings
from hub.storage.db import create_admin_engine, probe

app = typer.Typer(
    no_args_is_help=True, help="Partner calls: list them, replay dead letters, purge history."
)


class State(StrEnum):
    pending = "pending"
    inflight = "inflight"
    done = "done"
    dead = "dead"


def _console() -> Console:
    # Piped output (grep, CI logs) should not be wrapped at 80 columns.
    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, 160))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _table(entries: list[OutboxEntry]) -> Table:
    table = Table(header_style="bold")
    for column in ("id", "partner", "kind", "state", "attempts"):
        table.add_column(column, justify="right" if column in ("id", "attempts") else "left")
    table.add_column("next attempt (UTC)")
    table.add_column("deadline (UTC)")
    table.add_column("last error", overflow="fold", max_width=60)
    for e in entries:
        table.add_row(
            str(e.id),
            e.partner,
            e.kind,
            e.state,
            str(e.attempts),
            _when(e.next_attempt_at) if e.state in ("pending", "inflight") else "-",
            _when(e.deadline_at),
            e.last_error or "",
        )
    return table


@app.command("list")
def list_calls(
    state: Annotated[State | None, typer.Option("--state", help="Only this state.")] = None,
    partner: Annotated[str | None, typer.Option("--partner", help="Only this partner.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many rows.")] = 100,
    database_url: DatabaseUrl = None,
) -> None:
    """List partner calls, oldest first."""

    async def run() -> list[OutboxEntry]:
        engine = create_admin_engine(_url(database_url))
        try:
            await probe(engine)
            return await OutboxStore.list_calls(
                engine, state=state.value if state else None, partner=partner, limit=limit
            )
        finally:
            await engine.dispose()

    entries = asyncio.run(run())
    console = _console()
    if not entries:
        console.print("No partner calls match.")
        return
    console.print(_table(entries))


@app.command("retry")
def retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Ids of dead calls.")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead call.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Put dead calls back in the queue (attempts kept; a fresh deadline from the
    partner's own policy for that kind of call)."""
    console = _console()
    if bool(ids) == all_dead:
        Console(stderr=True).print("Give the ids of dead calls, or --all-dead (not both).")
        raise typer.Exit(2)

    async def run() -> int:
        engine = create_admin_engine(_url(database_url))
        try:
            await probe(engine)
            return await OutboxStore.retry_dead(
                engine,
                None if all_dead else ids,
                now=SystemClock().now(),
                policy_for=_policy_for(console),
            )
        finally:
            await engine.dispose()

    revived = asyncio.run(run())
    if revived == 0:
        what = "no dead calls" if all_dead else "none of those ids is a dead call"
        console.print(f"Nothing to retry: {what}.")
        return
    console.print(f"Moved {revived} dead call(s) back to pending; the workers will send them.")


@app.command("purge")
def purge(
    older_than_days: Annotated[
        float, typer.Option("--older-than-days", min=1, help="Delivered more than N days ago.")
    ] = 30,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete delivered calls older than the retention period (pending, in-flight and
    dead calls are kept)."""
    cutoff = SystemClock().now() - timedelta(days=older_than_days)

    async def run() -> int:
        engine = create_admin_engine(_url(database_url))
        try:
            await probe(engine)
            return await OutboxStore.purge_done(engine, delivered_before=cutoff)
        finally:
            await engine.dispose()

    removed = asyncio.run(run())
    _console().print(f"Deleted {removed} delivered call(s) older than {older_than_days:g} days.")


def _policy_for(console: Console) -> Callable[[str], RetryPolicy]:
    """Each partner's policy for the fresh deadline, found as the running hub finds it:
    the installed channel plugins, then the spec-only channels of
    ``TICKETHUB_CHANNEL_SPECS_DIRS``. The default if the plugins cannot be loaded (a
    replay must not depend on them)."""
    try:
        from hub.channels.generic import spec_channels
        from hub.plugins import build_plugins

        settings = Settings()
        plugins = build_plugins(blocked=settings.blocked_plugins)
        spec_channels(plugins.channels, settings.channel_specs_dirs, protocols=plugins.protocols)
    except Exception as exc:
        console.print(
            f"[yellow]Plugins not loaded ({type(exc).__name__}); "
            f"using the default deadline of {DEFAULT_POLICY.deadline_seconds:g} s.[/yellow]"
        )
        return lambda _partner: DEFAULT_POLICY
    return policies_from(plugins.channels.find)
