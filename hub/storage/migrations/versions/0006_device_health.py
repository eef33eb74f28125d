"""device health: each venue device as its bridge last reported it (device_health), the
bridge's own health beside its last-seen time (bridge_seen: clock skew, link in use,
pending uploads), and payment-provider failures (payment_failure)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 17:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_health",
        sa.Column("venue_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("bridge_id", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("vendor", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("gate", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_lag_s", sa.Float(), nullable=True),
        sa.Column("list_version", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offline_since", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("venue_id", "device_id"),
    )
    op.create_table(
        "payment_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("operation", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("payment_failure", schema=None) as batch_op:
        batch_op.create_index("ix_payment_failure_at", ["provider", "at"], unique=False)
    with op.batch_alter_table("bridge_seen", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "bridge_id",
                sqlmodel.sql.sqltypes.AutoString(length=24),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("clock_skew_s", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "link",
                sqlmodel.sql.sqltypes.AutoString(length=300),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("link_index", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pending_uploads", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bridge_seen", schema=None) as batch_op:
        batch_op.drop_column("pending_uploads")
        batch_op.drop_column("link_index")
        batch_op.drop_column("link")
        batch_op.drop_column("clock_skew_s")
        batch_op.drop_column("reported_at")
        batch_op.drop_column("bridge_id")
    with op.batch_alter_table("payment_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_failure_at")
    op.drop_table("payment_failure")
    op.drop_table("device_health")
