"""lfs objects

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:23:47.458305
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lfs_objects",
        sa.Column("oid", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("git_oid", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("oid"),
    )


def downgrade() -> None:
    op.drop_table("lfs_objects")
