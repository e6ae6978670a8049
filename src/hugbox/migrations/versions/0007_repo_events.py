"""the outbox of repo events and each subscriber's cursor (after 0006_repo_objects)

Revision ID: 0007_repo_events
Revises: 0006_repo_objects
Create Date: 2026-12-06 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hugbox.db

revision = "0007_repo_events"
down_revision = "0006_repo_objects"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repo_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("repo_type", sa.String(length=16), nullable=False),
        sa.Column("repo_id", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", hugbox.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_repo_events_repo_pk", "repo_events", ["repo_pk"])
    op.create_table(
        "event_cursors",
        sa.Column("subscriber", sa.String(length=64), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subscriber"),
    )


def downgrade() -> None:
    op.drop_table("event_cursors")
    op.drop_index("ix_repo_events_repo_pk", table_name="repo_events")
    op.drop_table("repo_events")
