"""file_scans and unsafe_weights_allowed: security scan verdicts per blob, and the repos whose
admins let inference load weights found unsafe

Revision ID: 0011_file_scans
Revises: 0010_space_runs
Create Date: 2026-12-07 09:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_file_scans"
down_revision = "0010_space_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_scans",
        sa.Column("oid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pickle_imports", sa.JSON(), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column("scanner", sa.String(length=64), nullable=False),
        sa.Column("scanned_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("oid"),
    )
    op.create_table(
        "unsafe_weights_allowed",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("allowed_by", sa.String(length=96), nullable=False),
        sa.Column("allowed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk"),
    )


def downgrade() -> None:
    op.drop_table("unsafe_weights_allowed")
    op.drop_table("file_scans")
