"""combo parts: a combo ticket's entries per attraction (ticket.parts), the part an entry
took (redemption.part), and the venue's gate → attraction map (gate_attraction).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "gate_attraction",
        sa.Column("venue_id", _S(length=64), nullable=False),
        sa.Column("gate", _S(length=64), nullable=False),
        sa.Column("attraction", _S(length=64), nullable=False),
        sa.PrimaryKeyConstraint("venue_id", "gate"),
    )
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("parts", sa.JSON(), nullable=True))
    with op.batch_alter_table("redemption") as batch:
        batch.add_column(sa.Column("part", _S(length=64), nullable=False, server_default=""))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch copy would drop and recreate
    # `ticket`, which the foreign keys of redemptions and allocations refuse.
    op.drop_column("redemption", "part")
    op.drop_column("ticket", "parts")
    op.drop_table("gate_attraction")
