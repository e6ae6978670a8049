"""fine-grained tokens: a token's scope, expiry, last use, and the addresses it was used from

Revision ID: 0020_fine_grained_tokens
Revises: 0019_sso
Create Date: 2026-12-07 12:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_fine_grained_tokens"
down_revision = "0019_sso"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("scope", sa.Text(), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("last_used_ip", sa.String(length=64), nullable=True))
    op.create_table(
        "token_addresses",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_id", "ip"),
    )


def downgrade() -> None:
    op.drop_table("token_addresses")
    with op.batch_alter_table("tokens") as batch:
        for column in ("last_used_ip", "last_used_at", "expires_at", "scope"):
            batch.drop_column(column)
