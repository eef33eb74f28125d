"""seal id numbers: order_visitor.id_number and ticket.holder_id_number leave the clear

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 14:10:00

Adds the sealed column (AES-GCM, bound to its row) and the keyed hash (HMAC-SHA256, what
lookups and per-ID counters use) of both ID numbers, seals every existing row with the
configured keys, then drops the clear columns and their indexes. Downgrade opens them
back into clear columns (same keys needed).

The keys: the hub (``serve``) hands its own in ``config.attributes["id_numbers"]``
(`hub.storage.sealed.IdNumbers`); otherwise (``tickethub db upgrade``, Alembic's command
line) they come from the settings, ``TICKETHUB_ID_NUMBER_KEY`` and
``TICKETHUB_ID_HASH_SECRET`` — and a database holding ID numbers is not sealed with the
public development keys outside ``TICKETHUB_DEV=1`` (`hub.devmode`).

Columns are dropped with plain ``ALTER TABLE … DROP COLUMN`` (SQLite ≥ 3.35), not batch
mode: batch mode would copy, drop and re-create ``ticket``, which ``face`` references.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 1000

# (table, primary key columns, clear column, sealed column, hash column)
VISITOR = ("order_visitor", ("order_id", "idx"), "id_number", "id_sealed", "id_hash")
TICKET = ("ticket", ("id",), "holder_id_number", "holder_id_sealed", "holder_id_hash")


def _row_label(table: str, key: Sequence[Any]) -> str:
    # the associated data of hub.storage.sealed.visitor_row_label / ticket_row_label
    from hub.storage import sealed

    return (
        sealed.visitor_row_label(key[0], key[1])
        if table == "order_visitor"
        else sealed.ticket_row_label(key[0])
    )


def _id_numbers(clear_rows: bool) -> Any:
    """The hub's `IdNumbers`, or one from the settings (refused when it would seal real
    rows with the development keys outside TICKETHUB_DEV=1)."""
    given = context.config.attributes.get("id_numbers")
    if given is not None:
        return given
    from hub.devmode import refuse_default_secrets
    from hub.settings import Settings
    from hub.storage.sealed import IdNumbers

    settings = Settings()
    if clear_rows:
        wanted = {"TICKETHUB_ID_HASH_SECRET", "TICKETHUB_ID_NUMBER_KEY"}
        refuse_default_secrets(
            "migration 0002 (sealing ID numbers)",
            [n for n in settings.default_secrets() if n in wanted],
        )
    return IdNumbers.from_settings(settings.id_number_key, settings.id_hash_secret)


def _chunks(conn: sa.Connection, table: sa.Table, where: Any) -> Iterator[list[Any]]:
    """Rows in primary-key order, CHUNK at a time (keyset pagination: no offset scans)."""
    pk = list(table.primary_key.columns)
    last: tuple[Any, ...] | None = None
    while True:
        stmt = sa.select(table).where(where).order_by(*pk).limit(CHUNK)
        if last is not None:
            stmt = stmt.where(sa.tuple_(*pk) > sa.tuple_(*[sa.literal(v) for v in last]))
        rows = conn.execute(stmt).all()
        if not rows:
            return
        yield rows
        last = tuple(getattr(rows[-1], c.name) for c in pk)


def _table(name: str, keys: Sequence[str], *columns: sa.Column[Any]) -> sa.Table:
    key_columns = [
        sa.Column(k, sa.Integer() if k == "idx" else sa.String(), primary_key=True) for k in keys
    ]
    return sa.Table(name, sa.MetaData(), *key_columns, *columns)


def _has_clear_rows(conn: sa.Connection) -> bool:
    for name, keys, clear, _, _ in (VISITOR, TICKET):
        t = _table(name, keys, sa.Column(clear, sa.String()))
        if conn.execute(sa.select(t.c[clear]).where(t.c[clear].isnot(None)).limit(1)).first():
            return True
    return False


def upgrade() -> None:
    conn = op.get_bind()
    for name, _, _, sealed_col, hash_col in (VISITOR, TICKET):
        op.add_column(name, sa.Column(sealed_col, sa.LargeBinary(), nullable=True))
        op.add_column(name, sa.Column(hash_col, sa.String(length=64), nullable=True))
    ids = _id_numbers(_has_clear_rows(conn))
    for name, keys, clear, sealed_col, hash_col in (VISITOR, TICKET):
        t = _table(
            name,
            keys,
            sa.Column(clear, sa.String()),
            sa.Column(sealed_col, sa.LargeBinary()),
            sa.Column(hash_col, sa.String()),
        )
        where_key = sa.and_(*[t.c[k] == sa.bindparam(f"k_{k}") for k in keys])
        update = (
            t.update()
            .where(where_key)
            .values({sealed_col: sa.bindparam("p_sealed"), hash_col: sa.bindparam("p_hash")})
        )
        for rows in _chunks(conn, t, t.c[clear].isnot(None)):
            params = []
            for r in rows:
                key = [getattr(r, k) for k in keys]
                number = getattr(r, clear)
                params.append(
                    {
                        **{f"k_{k}": v for k, v in zip(keys, key, strict=True)},
                        "p_sealed": ids.seal(_row_label(name, key), number),
                        "p_hash": ids.hash(number),
                    }
                )
            conn.execute(update, params)
        op.drop_index(op.f(f"ix_{name}_{clear}"), table_name=name)
        op.drop_column(name, clear)
        op.create_index(op.f(f"ix_{name}_{hash_col}"), name, [hash_col], unique=False)


def downgrade() -> None:
    conn = op.get_bind()
    for name, _, clear, _, hash_col in (VISITOR, TICKET):
        op.drop_index(op.f(f"ix_{name}_{hash_col}"), table_name=name)
        op.add_column(name, sa.Column(clear, sa.String(length=32), nullable=True))
        op.create_index(op.f(f"ix_{name}_{clear}"), name, [clear], unique=False)
    ids = None
    for name, keys, clear, sealed_col, hash_col in (VISITOR, TICKET):
        t = _table(
            name, keys, sa.Column(clear, sa.String()), sa.Column(sealed_col, sa.LargeBinary())
        )
        where_key = sa.and_(*[t.c[k] == sa.bindparam(f"k_{k}") for k in keys])
        update = t.update().where(where_key).values({clear: sa.bindparam("p_clear")})
        for rows in _chunks(conn, t, t.c[sealed_col].isnot(None)):
            ids = ids or _id_numbers(clear_rows=False)
            params = []
            for r in rows:
                key = [getattr(r, k) for k in keys]
                params.append(
                    {
                        **{f"k_{k}": v for k, v in zip(keys, key, strict=True)},
                        "p_clear": ids.open(_row_label(name, key), getattr(r, sealed_col)),
                    }
                )
            conn.execute(update, params)
        op.drop_column(name, hash_col)
        op.drop_column(name, sealed_col)
