"""one running job per (kind, key), kept by a unique partial index (after 0008_repo_refs)

The index also serves the claim's anti-join ("no job of this key runs"): on PostgreSQL without
it, and before the first ANALYZE, the planner chose a nested loop over every job ever run
(spec/scale-out.md §2.1, item 4).

Revision ID: 0009_jobs_running_key
Revises: 0008_repo_refs
Create Date: 2026-12-07 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_jobs_running_key"
down_revision = "0008_repo_refs"
branch_labels = None
depends_on = None

RUNNING_ONLY = sa.text("status = 'running'")


def upgrade() -> None:
    # Two claims racing before this index could leave two running jobs of one key: hand all but
    # the oldest back to the queue (their runs were already allowed to overlap once).
    op.execute(
        "UPDATE jobs SET status = 'waiting', worker = NULL WHERE status = 'running' AND id NOT IN "
        "(SELECT min(id) FROM jobs WHERE status = 'running' GROUP BY kind, key)"
    )
    op.create_index(
        "ix_jobs_running_key", "jobs", ["kind", "key"], unique=True,
        sqlite_where=RUNNING_ONLY, postgresql_where=RUNNING_ONLY,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_jobs_running_key", table_name="jobs")
