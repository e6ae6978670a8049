"""space_runs: where each space's app runs and when its host last saw it

Revision ID: 0010_space_runs
Revises: 0009_jobs_running_key
Create Date: 2026-12-07 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_space_runs"
down_revision = "0009_jobs_running_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "space_runs",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("runner", sa.String(length=32), nullable=False),
        sa.Column("pod", sa.String(length=255), nullable=False),
        sa.Column(
            "state",
            sa.Enum("running", "stopped", name="runstate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk"),
    )


def downgrade() -> None:
    op.drop_table("space_runs")
