"""caller_request_days, repo_request_days: requests per caller and per repo per day

Revision ID: 0021_request_counts
Revises: 0020_fine_grained_tokens
Create Date: 2026-12-07 12:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_request_counts"
down_revision = "0020_fine_grained_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "caller_request_days",
        sa.Column("caller", sa.String(length=80), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("caller", "day"),
    )
    op.create_index("ix_caller_request_days_day", "caller_request_days", ["day"])
    op.create_table(
        "repo_request_days",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk", "day"),
    )
    op.create_index("ix_repo_request_days_day", "repo_request_days", ["day"])


def downgrade() -> None:
    op.drop_index("ix_repo_request_days_day", table_name="repo_request_days")
    op.drop_table("repo_request_days")
    op.drop_index("ix_caller_request_days_day", table_name="caller_request_days")
    op.drop_table("caller_request_days")
