"""What a backup of the bridge's store must be: its tables at a schema version this bridge
can run (``PRAGMA user_version``, `hardware_bridge.schema`). The copying itself is the
hub's (`hub.storage.sqlite_backup`, stdlib only), used by ``tickethub bridge backup`` and
``restore``.

The store holds the cached tickets, the venue's public keys and rules (``meta``), the
decision log — including decisions not yet synced, which exist nowhere else — and the
onboarded devices. A restored store syncs on from its cursor, so tickets changed since the
backup arrive with the next sync; decisions taken after the backup and not synced before
the loss are gone, which is why a bridge backup is worth taking often.
"""

from __future__ import annotations

import sqlite3

from hardware_bridge import schema
from hub.sdk.sqlite_backup import BackupError, Schema

TABLES = frozenset({"meta", "tickets", "entries", "log", "devices"})


def _version(conn: sqlite3.Connection) -> str:
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = sorted(TABLES - names)
    if missing:
        raise BackupError(f"not a bridge store (no table {', '.join(missing)})")
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > schema.SCHEMA_VERSION:
        raise BackupError(
            f"store version {version} is newer than this bridge's ({schema.SCHEMA_VERSION}): "
            "restore it with the version that wrote it"
        )
    if version < schema.SCHEMA_VERSION:
        return f"v{version} (upgraded to v{schema.SCHEMA_VERSION} when the bridge starts)"
    return f"v{version} (current)"


STORE = Schema(
    what="bridge store",
    check=_version,
    counts=(
        ("tickets", "SELECT count(*) FROM tickets"),
        ("decisions", "SELECT count(*) FROM log"),
        ("not yet synced", "SELECT count(*) FROM log WHERE synced = 0"),
        ("devices", "SELECT count(*) FROM devices"),
    ),
)
