"""reconciliation: statements, discrepancies, and the indexes the day report reads by

A day's sales are read by payment time (orders.confirmed_at per venue and per channel), its
refunds by ticket revocation time, WeChat refund records by their last update.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 14:20:25.397330
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reconcile_statement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("merchant", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("discrepancies", sa.Integer(), nullable=False),
        sa.Column("imported_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    with op.batch_alter_table("reconcile_statement", schema=None) as batch_op:
        batch_op.create_index("ix_reconcile_statement_day", ["channel", "day"], unique=False)

    op.create_table(
        "reconcile_discrepancy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("hub_amount", sa.BigInteger(), nullable=True),
        sa.Column("partner_amount", sa.BigInteger(), nullable=True),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acked_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("resolved_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolve_note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["reconcile_statement.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "day", "kind", "ref", name="uq_discrepancy"),
    )
    with op.batch_alter_table("reconcile_discrepancy", schema=None) as batch_op:
        batch_op.create_index("ix_discrepancy_state", ["state", "day"], unique=False)

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_orders_channel_confirmed", ["channel", "confirmed_at"], unique=False
        )
        batch_op.create_index(
            "ix_orders_venue_confirmed", ["venue_id", "confirmed_at"], unique=False
        )

    with op.batch_alter_table("plugin_record", schema=None) as batch_op:
        batch_op.create_index(
            "ix_plugin_record_updated", ["plugin", "kind", "updated_at"], unique=False
        )

    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_venue_revoked", ["venue_id", "revoked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_venue_revoked")

    with op.batch_alter_table("plugin_record", schema=None) as batch_op:
        batch_op.drop_index("ix_plugin_record_updated")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_venue_confirmed")
        batch_op.drop_index("ix_orders_channel_confirmed")

    with op.batch_alter_table("reconcile_discrepancy", schema=None) as batch_op:
        batch_op.drop_index("ix_discrepancy_state")

    op.drop_table("reconcile_discrepancy")
    with op.batch_alter_table("reconcile_statement", schema=None) as batch_op:
        batch_op.drop_index("ix_reconcile_statement_day")

    op.drop_table("reconcile_statement")
