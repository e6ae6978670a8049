"""the commit the database last recorded for each ref (after 0007_repo_events)

Repos made before this table have no rows; the reconciler fills them in from git once, without
announcing them (repos/reconcile.py).

Revision ID: 0008_repo_refs
Revises: 0007_repo_events
Create Date: 2026-12-07 00:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_repo_refs"
down_revision = "0007_repo_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repo_refs",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=512), nullable=False),
        sa.Column("commit", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk", "ref"),
    )


def downgrade() -> None:
    op.drop_table("repo_refs")
