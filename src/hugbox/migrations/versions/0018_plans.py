"""plan_assignments: the plan an administrator gave an account

Revision ID: 0018_plans
Revises: 0017_trust
Create Date: 2026-12-07 09:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_plans"
down_revision = "0017_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_assignments",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("plan", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id"),
    )


def downgrade() -> None:
    op.drop_table("plan_assignments")
