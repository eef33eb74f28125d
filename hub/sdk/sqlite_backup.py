"""Backup and restore of a SQLite file (the hub's embedded database, the bridge's store).

Stdlib ``sqlite3`` only, shared by ``tickethub backup``/``restore`` and ``tickethub bridge
backup``/``restore``; what is specific to each database (its schema revision, what to
count) is passed in as a `Schema`.

- **Backup** uses SQLite's online backup API (`sqlite3.Connection.backup`) in ONE step:
  one read transaction, so the copy is the database as of one commit even while the hub
  or bridge keeps writing (in WAL mode a reader never blocks the writer). The copy is
  written next to the destination, checked (``PRAGMA integrity_check``, the schema),
  switched to a single self-contained file (``journal_mode=DELETE``), made readable by its
  owner only (it holds the venues' private signing keys), and only then renamed into
  place: a backup that did not finish never looks like one.
- **Restore** checks the backup first (integrity, and a schema this version can run),
  refuses a target that a running process holds open (stop it first — the hub and the
  bridge keep state in memory that a swapped file would contradict), refuses a target
  that already holds data unless ``force``, removes the target's stale ``-wal``/``-shm``
  (a stale WAL replayed onto the restored file would corrupt it), lets the database's
  `Schema.after_restore` adjust the copy, and renames the checked copy into place.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SIDECARS = ("-wal", "-shm", "-journal")


class BackupError(Exception):
    """A backup or restore that was refused or failed; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Schema:
    """What one kind of database looks like: `check` returns a description of the file's
    schema revision (``"0001 (head)"``) or raises `BackupError` when this version cannot
    run it; `counts` are ``(label, SELECT count…)`` shown in the report."""

    what: str  # "hub database", "bridge store"
    check: Callable[[sqlite3.Connection], str]
    counts: tuple[tuple[str, str], ...] = ()
    # run on the restored copy (in one transaction) before it is put in place
    after_restore: Callable[[sqlite3.Connection], None] | None = None


@dataclass
class Report:
    path: Path
    bytes: int
    schema: str
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        counted = ", ".join(f"{n} {label}" for label, n in self.counts.items())
        return f"integrity ok, schema {self.schema}" + (f"; {counted}" if counted else "")


def _connect(path: Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    return sqlite3.connect(str(path), timeout=timeout, isolation_level=None)


def in_use(path: Path) -> bool:
    """Some process (a running hub or bridge) has the file open. Every open connection to
    a WAL database holds a shared lock, so an exclusive one cannot be had while it lives."""
    if not path.exists():
        return False
    conn = _connect(path, timeout=0)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return True
        raise BackupError(f"{path}: {exc}") from exc
    except sqlite3.DatabaseError:
        return False  # not a database at all: nobody runs on it (`has_data` guards it)
    finally:
        conn.close()


def has_data(path: Path) -> bool:
    """The file holds a database with at least one table (an empty file does not)."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    conn = _connect(path)
    try:
        return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
    except sqlite3.DatabaseError:
        return True  # something that is not an empty database: not ours to drop silently
    finally:
        conn.close()


def verify(path: Path, schema: Schema) -> Report:
    """``PRAGMA integrity_check`` and the schema; `BackupError` when either is wrong."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackupError(f"{path}: cannot open: {exc}") from exc
    try:
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.OperationalError as exc:
            raise BackupError(f"{path}: cannot read: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise BackupError(f"{path}: not a SQLite database") from exc
            raise BackupError(f"{path}: integrity check failed: {exc}") from exc
        if rows != ["ok"]:
            raise BackupError(f"{path}: integrity check failed: {'; '.join(rows[:5])}")
        revision = schema.check(conn)
        counts = {label: int(conn.execute(sql).fetchone()[0]) for label, sql in schema.counts}
    finally:
        conn.close()
    return Report(path, path.stat().st_size, revision, counts)


def _partial(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.partial")


def _copy(source: sqlite3.Connection, target: Path) -> None:
    """The whole database in one step (one consistent snapshot), as a plain file."""
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
    fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)  # keys inside
    os.close(fd)
    out = _connect(target)
    try:
        source.backup(out)
        out.execute("PRAGMA journal_mode=DELETE")
    finally:
        out.close()
    with open(target, "rb") as f:
        os.fsync(f.fileno())


@contextlib.contextmanager
def _copying(source: Path, partial: Path) -> Iterator[sqlite3.Connection]:
    """``source`` open while ``partial`` is written from it; ``partial`` is removed when
    anything fails, so only a checked copy is ever renamed into place."""
    src = _connect(source)
    try:
        yield src
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    finally:
        src.close()


def backup(source: Path, dest: Path, schema: Schema, *, force: bool = False) -> Report:
    """Copy the live database ``source`` to ``dest`` (consistent while it is in use)."""
    if not source.is_file():
        raise BackupError(f"{source}: no such {schema.what}")
    if dest.exists() and not force:
        raise BackupError(f"{dest} exists; choose a new name or pass --force to replace it")
    if dest.resolve() == source.resolve():
        raise BackupError("the backup must not be the database itself")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(dest)
    with _copying(source, partial) as src:
        try:
            _copy(src, partial)
        except sqlite3.Error as exc:
            raise BackupError(f"{source}: cannot be backed up: {exc}") from exc
        report = verify(partial, schema)
    os.replace(partial, dest)
    report.path = dest
    return report


def restore(source: Path, target: Path, schema: Schema, *, force: bool = False) -> Report:
    """Replace ``target`` with the checked backup ``source``."""
    checked = verify(source, schema)
    if target.exists() and target.resolve() == source.resolve():
        raise BackupError("the backup and the target are the same file")
    if in_use(target):
        raise BackupError(
            f"{target} is open in a running process (a hub or bridge): stop it first; "
            "a database is never replaced under a running process, --force or not"
        )
    if has_data(target) and not force:
        raise BackupError(
            f"{target} already holds a {schema.what}; pass --force to replace it "
            "(back it up first if it may be needed)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(target)
    with _copying(source, partial) as src:
        _copy(src, partial)
        if schema.after_restore is not None:
            out = _connect(partial)
            try:
                out.execute("BEGIN IMMEDIATE")
                schema.after_restore(out)
                out.execute("COMMIT")
            finally:
                out.close()
        verify(partial, schema)
    for suffix in SIDECARS:  # a stale WAL must never be replayed onto the restored file
        with contextlib.suppress(FileNotFoundError):
            Path(f"{target}{suffix}").unlink()
    os.replace(partial, target)
    report = verify(target, schema)
    report.schema = checked.schema
    return report
