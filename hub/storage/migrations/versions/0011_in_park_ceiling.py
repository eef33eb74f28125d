"""in_park_correction: staff's count of the visitors inside; ceiling_grant: each bridge's
share of the in-park headroom (the in-park ceiling, `hub.redemptions.ceiling`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "in_park_correction",
        sa.Column("venue_id", _S(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("exits", sa.Integer(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("venue_id", "day"),
    )
    op.create_table(
        "ceiling_grant",
        sa.Column("venue_id", _S(length=64), nullable=False),
        sa.Column("bridge", _S(length=64), nullable=False),
        sa.Column("share", sa.Integer(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("venue_id", "bridge"),
    )


def downgrade() -> None:
    op.drop_table("ceiling_grant")
    op.drop_table("in_park_correction")
