"""background jobs and dataset viewer exports (after 0003_xet: one line of history)

Revision ID: 0004_viewer
Revises: 0003_xet
Create Date: 2026-11-25 14:43:43.168217
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hugbox.db

revision = "0004_viewer"
down_revision = "0003_xet"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "waiting",
                "running",
                "done",
                "failed",
                name="jobstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", hugbox.db.UTCDateTime(), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("heartbeat_at", hugbox.db.UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", hugbox.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", hugbox.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_kind_key", ["kind", "key"], unique=False)
        batch_op.create_index("ix_jobs_ready", ["status", "run_after"], unique=False)

    op.create_table(
        "viewer_exports",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("revision", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum("ok", "error", name="exportstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("updated_at", hugbox.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk"),
    )


def downgrade() -> None:
    op.drop_table("viewer_exports")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_ready")
        batch_op.drop_index("ix_jobs_kind_key")

    op.drop_table("jobs")
