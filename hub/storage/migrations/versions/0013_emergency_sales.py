"""emergency sales at the bridges: bridge_key (bridge public keys certified by the venue
key, and their revocation). Emergency allotments are inventory buckets and emergency
sales are orders of channel ``emergency``: no other table.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "bridge_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("venue_id", _S(length=64), nullable=False),
        sa.Column("bridge_id", _S(length=24), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("public_key", _S(length=64), nullable=False),
        sa.Column("issuer_key_id", sa.Integer(), nullable=False),
        sa.Column("signature", _S(length=128), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("certified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("certified_by", _S(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", _S(length=64), nullable=False),
        sa.Column("revoke_reason", _S(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("venue_id", "key_id", name="uq_bridge_key_id"),
    )


def downgrade() -> None:
    op.drop_table("bridge_key")
