"""which repos may serve which large files (after 0005_spaces: one line of history)

Revision ID: 0006_repo_objects
Revises: 0005_spaces
Create Date: 2026-12-06 18:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hugbox.db

revision = "0006_repo_objects"
down_revision = "0005_spaces"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repo_objects",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("oid", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk", "oid"),
    )
    op.create_index("ix_repo_objects_oid", "repo_objects", ["oid"])
    op.create_table(
        "object_uploads",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("oid", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", hugbox.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk", "oid", "user_id"),
    )
    # Repos that exist already are indexed from their git history when the hub next starts.
    with op.batch_alter_table("repos") as batch:
        batch.add_column(
            sa.Column("objects_indexed", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("repos") as batch:
        batch.drop_column("objects_indexed")
    op.drop_table("object_uploads")
    op.drop_index("ix_repo_objects_oid", table_name="repo_objects")
    op.drop_table("repo_objects")
