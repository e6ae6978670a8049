"""usage: download counts per day and their dedup marks, repo storage, repo counters

Revision ID: 0015_usage
Revises: 0014_space_hosts
Create Date: 2026-12-07 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_usage"
down_revision = "0014_space_hosts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("repos") as batch:
        batch.add_column(
            sa.Column("downloads_all_time", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("trending_score", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "download_marks",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("visitor", sa.String(length=80), nullable=False),
        sa.Column("window", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk", "visitor", "window"),
    )
    op.create_index("ix_download_marks_window", "download_marks", ["window"])
    op.create_table(
        "download_days",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk", "day"),
    )
    op.create_index("ix_download_days_day", "download_days", ["day"])
    _keep_old_counts()
    op.create_table(
        "repo_storage",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("lfs_bytes", sa.BigInteger(), nullable=False),
        sa.Column("git_bytes", sa.BigInteger(), nullable=False),
        sa.Column("largest", sa.JSON(), nullable=False),
        sa.Column("measured_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk"),
    )


# PostgreSQL wants a date typed as one; SQLite keeps dates as this text.
_OLD_COUNTS = (
    "INSERT INTO download_days (repo_pk, day, count) "
    "SELECT id, {day}, downloads FROM repos WHERE downloads > 0"
)


def _keep_old_counts() -> None:
    """What the bare counter counted before, on an undated day: it stays in `downloadsAllTime`
    and leaves the 30-day `downloads` (nobody knows when those downloads were)."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute(_OLD_COUNTS.format(day="DATE '1970-01-01'" if postgresql else "'1970-01-01'"))
    op.execute("UPDATE repos SET downloads_all_time = downloads")


def downgrade() -> None:
    op.drop_table("repo_storage")
    op.drop_index("ix_download_days_day", table_name="download_days")
    op.drop_table("download_days")
    op.drop_index("ix_download_marks_window", table_name="download_marks")
    op.drop_table("download_marks")
    with op.batch_alter_table("repos") as batch:
        batch.drop_column("trending_score")
        batch.drop_column("downloads_all_time")
