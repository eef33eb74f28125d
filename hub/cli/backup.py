"""`tickethub backup DEST` / `tickethub restore BACKUP`: the hub's SQLite database.

Everything the hub needs to carry on is in its database — catalog, inventory, orders,
tickets, redemptions, the outbox, and the venues' Ed25519 signing keys (table ``venue``),
so credentials issued before a backup verify after a restore and new ones are signed
with the same key. What is NOT in it: the settings (``.env``: tokens, the ID-hash and
face keys), which must be kept with the backups. The backup holds private keys: it is
written readable by its owner only; store it encrypted.

PostgreSQL deployments back up with PostgreSQL's own tools (README, "Backups"): the
commands say so and stop.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from hub.cli.errors import fail
from hub.cli.options import DatabaseUrl
from hub.cli.options import database_url as _url
from hub.sdk.sqlite_backup import BackupError, Schema, backup, restore

Force = Annotated[bool, typer.Option("--force", help="replace an existing file")]

POSTGRES = (
    "{url} is PostgreSQL: tickethub does not copy it itself. Use pg_dump / pg_restore for "
    "a logical backup, or pg_basebackup with WAL archiving for point-in-time recovery — "
    'see README.md, "Backups".'
)


def _revision(conn: sqlite3.Connection) -> str:
    """The Alembic revision; a database from a newer tickethub is refused."""
    from hub.storage import migrate  # Alembic is heavy: only when a command runs

    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError as exc:
        raise BackupError("not a tickethub hub database (no alembic_version table)") from exc
    if row is None:
        raise BackupError("the database was never migrated (no schema revision)")
    revision, head = str(row[0]), migrate.head_revision()
    if revision == head:
        return f"{revision} (head)"
    try:
        from alembic.script import ScriptDirectory

        known = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(revision)
    except Exception:
        known = None
    if known is None:
        raise BackupError(
            f"schema revision {revision} is unknown to this tickethub (head {head}): the "
            "database comes from a newer version; restore it with that version"
        )
    return f"{revision} (head is {head}: the hub upgrades it at start, or tickethub db upgrade)"


# How far a restore moves the venues' change counters ahead (`_after_restore`).
CHANGE_GAP = 1_000_000_000


def _after_restore(conn: sqlite3.Connection) -> None:
    """Bridges keep a cursor into the venue's change numbers (`hub.redemptions.changes`).
    One that synced after the backup holds a cursor AHEAD of the restored counter, and
    would skip every change the restored hub numbers below it — a refund among them, so
    a refunded ticket would still open its gate. Moving every counter far ahead gives
    each change from now on a number past any cursor a bridge can hold (fewer than
    `CHANGE_GAP` changes between backup and restore); numbers only need to grow."""
    conn.execute("UPDATE venue_change SET seq = seq + ?", (CHANGE_GAP,))


HUB = Schema(
    what="hub database",
    check=_revision,
    counts=(
        ("venues (with their signing keys)", "SELECT count(*) FROM venue"),
        ("orders", "SELECT count(*) FROM orders"),
        ("tickets", "SELECT count(*) FROM ticket"),
        ("redemptions", "SELECT count(*) FROM redemption"),
    ),
    after_restore=_after_restore,
)


def _sqlite_file(database_url: str | None) -> Path:
    url = _url(database_url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise fail(POSTGRES.format(url=parsed.render_as_string(hide_password=True)))
    if not parsed.database or parsed.database == ":memory:":
        raise fail(f"{url}: an in-memory database cannot be backed up or restored")
    return Path(parsed.database)


def _fail(exc: BackupError) -> typer.Exit:
    return fail(f"refused: {exc}", 1)


def backup_command(
    dest: Annotated[
        Path, typer.Argument(metavar="DEST", help="the backup file to write", show_default=False)
    ],
    database_url: DatabaseUrl = None,
    force: Force = False,
) -> None:
    """Back up the hub's SQLite database to DEST — consistent while the hub runs (SQLite's
    online backup API), checked before it is kept. PostgreSQL: see README, "Backups"."""
    source = _sqlite_file(database_url)
    try:
        report = backup(source, dest, HUB, force=force)
    except BackupError as exc:
        raise _fail(exc) from exc
    typer.echo(f"backed up {source} → {dest} ({report.bytes} bytes): {report.summary()}")
    typer.echo(
        "keep the hub's settings (.env) with it: the database alone does not hold them; "
        "the file holds the venues' private signing keys — store it encrypted"
    )


def restore_command(
    backup_file: Annotated[
        Path, typer.Argument(metavar="BACKUP", help="a file `tickethub backup` wrote")
    ],
    database_url: DatabaseUrl = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace a database that holds data (hub stopped)")
    ] = False,
) -> None:
    """Restore the hub's SQLite database from BACKUP: the backup is checked first
    (integrity, schema revision); a database in use by a running hub is never replaced,
    one that holds data only with --force."""
    target = _sqlite_file(database_url)
    try:
        report = restore(backup_file, target, HUB, force=force)
    except BackupError as exc:
        raise _fail(exc) from exc
    typer.echo(f"restored {backup_file} → {target}: {report.summary()}")
    typer.echo(
        f"ticket change numbers moved ahead by {CHANGE_GAP:,} so running bridges receive "
        "every change from now on; start the hub on it: tickethub serve"
    )
