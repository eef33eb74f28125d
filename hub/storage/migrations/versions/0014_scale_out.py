"""scale_out: token buckets shared by N hub processes (rate_bucket) and partners'
circuit breakers open for all of them (partner_breaker); the bridge change
feed's index covers its whole cursor (venue_id, change_seq, id), replacing
ix_ticket_change (venue_id, change_seq), so a feed page is a range read and needs no
sort whatever the venue's history.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 18:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_bucket",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "partner_breaker",
        sa.Column("partner", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("open_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("partner"),
    )
    op.create_index("ix_ticket_change_id", "ticket", ["venue_id", "change_seq", "id"], unique=False)
    op.drop_index("ix_ticket_change", table_name="ticket")


def downgrade() -> None:
    op.create_index("ix_ticket_change", "ticket", ["venue_id", "change_seq"], unique=False)
    op.drop_index("ix_ticket_change_id", table_name="ticket")
    op.drop_table("partner_breaker")
    op.drop_table("rate_bucket")
