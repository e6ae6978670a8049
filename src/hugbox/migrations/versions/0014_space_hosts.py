"""space_runs.upstream and visited_at, spaces_leases: running-space state that several spaces
hosts share (one supervises; any proxies)

Revision ID: 0014_space_hosts
Revises: 0013_access_requests
Create Date: 2026-12-07 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_space_hosts"
down_revision = "0013_access_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("space_runs") as batch:
        batch.add_column(sa.Column("upstream", sa.Text(), nullable=True))
        batch.add_column(sa.Column("visited_at", sa.DateTime(), nullable=True))
    op.create_table(
        "spaces_leases",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("spaces_leases")
    with op.batch_alter_table("space_runs") as batch:
        batch.drop_column("visited_at")
        batch.drop_column("upstream")
