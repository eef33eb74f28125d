"""console operations pages: double-use conflicts a supervisor resolved
(conflict_resolution), and the indexes the order search and the order page read by
(order_visitor.phone, idempotency.order_id, staff_audit.target)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 17:50:56.671531
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


def upgrade() -> None:
    op.create_table(
        "conflict_resolution",
        sa.Column("redemption_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("venue_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("resolved_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.PrimaryKeyConstraint("redemption_id"),
    )
    with op.batch_alter_table("conflict_resolution", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conflict_resolution_venue_id"), ["venue_id"], unique=False
        )

    with op.batch_alter_table("idempotency", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idempotency_order_id"), ["order_id"], unique=False)

    with op.batch_alter_table("order_visitor", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_visitor_phone"), ["phone"], unique=False)

    with op.batch_alter_table("staff_audit", schema=None) as batch_op:
        batch_op.create_index("ix_staff_audit_target", ["target"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("staff_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_audit_target")

    with op.batch_alter_table("order_visitor", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_visitor_phone"))

    with op.batch_alter_table("idempotency", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_order_id"))

    with op.batch_alter_table("conflict_resolution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conflict_resolution_venue_id"))

    op.drop_table("conflict_resolution")
