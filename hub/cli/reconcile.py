"""``tickethub reconcile``: import a partner's statement of a day, list the discrepancies
it raised, acknowledge or resolve them with a note (who and when are kept)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli.errors import fail as _fail
from hub.cli.options import DatabaseUrl, database_url
from hub.cli.options import parse_day as _day
from hub.process import run_async
from hub.settings import Settings
from hub.storage.db import create_admin_engine

app = typer.Typer(
    no_args_is_help=True, help="Day-end reconciliation: statements in, discrepancies out."
)


def _echo(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))


async def _with_engine(url: str | None, fn: Any) -> Any:
    engine = create_admin_engine(database_url(url))
    try:
        return await fn(engine)
    finally:
        await engine.dispose()


@app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(help="the statement: WeChat's ALL bill, an OTA's settlement CSV/XLSX"),
    ],
    channel: Annotated[str, typer.Option(help="whose statement: wechat, ctrip, meituan, …")],
    day: Annotated[str, typer.Option("--date", help="the statement's day, YYYY-MM-DD")],
    mch_id: Annotated[
        str | None, typer.Option(help="merchant id (default: the wechat channel's WECHAT_MCHID)")
    ] = None,
    by: Annotated[str, typer.Option(help="who imports it")] = "cli",
    midnight_window: Annotated[
        int, typer.Option(min=0, max=3600, help="seconds around midnight: crossed_midnight")
    ] = 300,
    database_url: DatabaseUrl = None,
) -> None:
    """Import a statement and match it; the same file twice changes nothing."""
    from hub.plugins import build_plugins
    from hub.reconcile.service import (
        CHANNELS,
        UnsupportedChannel,
        channel_spec,
        import_statement,
        settlement_merchant,
        wechat_merchant,
    )
    from hub.reconcile.wechat_bill import BillError

    the_day = _day(day)
    if not file.is_file():
        raise _fail(f"no such file: {file}")
    settings = Settings()
    spec = None
    if channel in CHANNELS:
        merchant = mch_id or wechat_merchant(settings.channel_settings)
    else:
        plugins = build_plugins(blocked=settings.blocked_plugins)
        spec = channel_spec(channel, (e.obj for e in plugins.channels), settings.channel_specs_dirs)
        if spec is None:
            raise _fail(f"no channel {channel!r}: no plugin and no spec of that name")
        merchant = mch_id or settlement_merchant(spec, settings.channel_settings)

    async def run(engine: Any) -> Any:
        return await import_statement(
            engine,
            channel=channel,
            day=the_day,
            raw=file.read_bytes(),
            merchant=merchant,
            by=by,
            now=datetime.now(UTC),
            window=timedelta(seconds=midnight_window),
            spec=spec,
        )

    try:
        result = run_async(_with_engine(database_url, run))
    except (BillError, UnsupportedChannel) as exc:
        raise _fail(f"{file.name}: {exc} — nothing imported") from None
    _echo(result.as_dict())


@app.command("list")
def list_(
    day: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD")] = None,
    channel: Annotated[str | None, typer.Option(help="e.g. wechat")] = None,
    state: Annotated[str | None, typer.Option(help="open | acknowledged | resolved")] = None,
    kind: Annotated[str | None, typer.Option(help="hub_only, partner_only, …")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 500,
    database_url: DatabaseUrl = None,
) -> None:
    """The discrepancies on record (JSON, money in yuan)."""
    from hub.reconcile import store

    the_day = _day(day) if day else None

    async def run(engine: Any) -> Any:
        async with engine.connect() as conn:
            return await store.listing(
                conn, day=the_day, channel=channel, state=state, kind=kind, limit=limit
            )

    try:
        _echo(run_async(_with_engine(database_url, run)))
    except store.BadMove as exc:
        raise _fail(str(exc)) from None


def _move(disc_id: int, to: str, by: str, note: str, database_url: str | None) -> None:
    from hub.reconcile import store

    async def run(engine: Any) -> Any:
        return await store.move(engine, disc_id, to, by=by, note=note, now=datetime.now(UTC))

    try:
        _echo(run_async(_with_engine(database_url, run)))
    except store.NotFound as exc:
        raise _fail(str(exc), 1) from None
    except store.BadMove as exc:
        raise _fail(str(exc), 1) from None


@app.command("ack")
def ack(
    disc_id: Annotated[int, typer.Argument(help="the discrepancy's id")],
    by: Annotated[str, typer.Option(help="who")],
    note: Annotated[str, typer.Option(help="what was seen / done")],
    database_url: DatabaseUrl = None,
) -> None:
    """Acknowledge an open discrepancy (someone is on it)."""
    _move(disc_id, "acknowledged", by, note, database_url)


@app.command("resolve")
def resolve(
    disc_id: Annotated[int, typer.Argument(help="the discrepancy's id")],
    by: Annotated[str, typer.Option(help="who")],
    note: Annotated[str, typer.Option(help="how it was settled")],
    database_url: DatabaseUrl = None,
) -> None:
    """Resolve a discrepancy (open or acknowledged) with a note."""
    _move(disc_id, "resolved", by, note, database_url)
