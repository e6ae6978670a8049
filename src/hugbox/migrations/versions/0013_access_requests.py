"""access requests: HF's requestId, the form's answers, the decision; in-app notifications

Revision ID: 0013_access_requests
Revises: 0012_webhooks
Create Date: 2026-12-07 09:40:00.000000
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0013_access_requests"
down_revision = "0012_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_grants") as batch:
        batch.add_column(sa.Column("request_id", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("fields", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("rejection_reason", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("granted_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("decided_at", sa.DateTime(), nullable=True))
    _give_request_ids()
    with op.batch_alter_table("access_grants") as batch:
        batch.alter_column("request_id", existing_type=sa.String(length=24), nullable=False)
        batch.create_unique_constraint("uq_access_grants_request_id", ["request_id"])
        batch.create_foreign_key(
            "fk_access_grants_granted_by_id", "accounts", ["granted_by_id"], ["id"],
            ondelete="SET NULL",
        )  # fmt: skip
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notifications_user_read", "notifications", ["user_id", "read_at"])


def _give_request_ids() -> None:
    """Requests made before this revision get their id too (the client needs one)."""
    connection = op.get_bind()
    grants = sa.table("access_grants", sa.column("id", sa.Integer), sa.column("request_id"))
    for (grant_id,) in connection.execute(sa.select(grants.c.id)).all():
        connection.execute(
            grants.update().where(grants.c.id == grant_id).values(request_id=secrets.token_hex(12))
        )


def downgrade() -> None:
    op.drop_index("ix_notifications_user_read", table_name="notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("access_grants") as batch:
        batch.drop_constraint("fk_access_grants_granted_by_id", type_="foreignkey")
        batch.drop_constraint("uq_access_grants_request_id", type_="unique")
        for column in ("decided_at", "granted_by_id", "rejection_reason", "fields", "request_id"):
            batch.drop_column(column)
