"""flow counters: the flow wall's figures kept by the writes — entries/exits per gate per
5 minutes (flow_gate), sold/arrived per slot (flow_slot), sales and refunds per channel and
day (flow_sales), the outbox backlog per partner and state (outbox_count); venue.max_in_park.
The counters of an existing database are filled from its rows (`hub.wall.recount`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "flow_gate",
        sa.Column("venue_id", _S(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("gate", _S(length=64), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("exits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("venue_id", "day", "minute", "gate"),
    )
    op.create_table(
        "flow_slot",
        sa.Column("venue_id", _S(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("slot", _S(length=32), nullable=False),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.Column("arrived", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("venue_id", "day", "slot"),
    )
    op.create_table(
        "flow_sales",
        sa.Column("venue_id", _S(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", _S(length=32), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded_tickets", sa.Integer(), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("venue_id", "day", "channel"),
    )
    op.create_table(
        "outbox_count",
        sa.Column("partner", _S(length=32), nullable=False),
        sa.Column("state", _S(length=16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("partner", "state"),
    )
    with op.batch_alter_table("venue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_in_park", sa.Integer(), nullable=True))
    _fill()


def _fill() -> None:
    """Counters of the rows already there (a new database has none)."""
    from hub.wall import recount

    conn = op.get_bind()
    counts = recount.compute([conn.execute(q).all() for q in recount.queries()])
    for name, rows in recount.as_rows(counts).items():
        if rows:
            conn.execute(recount.TABLES[name].insert(), rows)


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch copy of `venue` would drop the
    # table the products' foreign keys point at, which SQLite refuses once there are any.
    op.drop_column("venue", "max_in_park")
    op.drop_table("outbox_count")
    op.drop_table("flow_sales")
    op.drop_table("flow_slot")
    op.drop_table("flow_gate")
