"""discussions: comments, status and title changes; a PR's base, merge commit, opening post state

Revision ID: 0011_discussions
Revises: 0010_space_runs
Create Date: 2026-12-07 09:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hugbox.db

revision = "0011_discussions"
down_revision = "0010_space_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "discussion_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("discussion_pk", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=24), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", hugbox.db.UTCDateTime(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("updated_at", hugbox.db.UTCDateTime(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["accounts.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["discussion_pk"], ["discussions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index(
        "ix_discussion_events_discussion_pk", "discussion_events", ["discussion_pk"], unique=False
    )
    # Discussions opened before this migration target main and have untouched opening posts.
    with op.batch_alter_table("discussions") as batch:
        batch.add_column(
            sa.Column(
                "base_ref", sa.String(length=255), nullable=False,
                server_default="refs/heads/main",
            )
        )  # fmt: skip
        batch.add_column(sa.Column("merge_commit", sa.String(length=40), nullable=True))
        for flag in ("description_edited", "description_hidden"):
            batch.add_column(
                sa.Column(flag, sa.Boolean(), nullable=False, server_default=sa.false())
            )
        batch.add_column(
            sa.Column("description_updated_at", hugbox.db.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("discussions") as batch:
        for column in (
            "description_updated_at", "description_hidden", "description_edited",
            "merge_commit", "base_ref",
        ):  # fmt: skip
            batch.drop_column(column)
    op.drop_index("ix_discussion_events_discussion_pk", table_name="discussion_events")
    op.drop_table("discussion_events")
