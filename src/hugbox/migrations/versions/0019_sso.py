"""sso_configs, sso_identities, sso_sessions, sso_logins: single sign-on for organisations

Revision ID: 0019_sso
Revises: 0018_plans
Create Date: 2026-12-07 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_sso"
down_revision = "0018_plans"
branch_labels = None
depends_on = None


def _org(column: str = "org_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["accounts.id"], ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "sso_configs",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=500), nullable=False),
        sa.Column("client_secret", sa.Text(), nullable=False),
        sa.Column("role_claim", sa.String(length=100), nullable=False),
        sa.Column("role_mapping", sa.JSON(), nullable=False),
        sa.Column("default_role", sa.String(length=16), nullable=False),
        sa.Column("require_sso", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _org(),
        sa.PrimaryKeyConstraint("org_id"),
    )
    op.create_table(
        "sso_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=False),
        _org("user_id"),
        _org(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer", "subject"),
    )
    op.create_table(
        "sso_sessions",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"], ondelete="CASCADE"),
        _org(),
        sa.PrimaryKeyConstraint("token_id"),
    )
    op.create_table(
        "sso_logins",
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("next_url", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _org(),
        sa.PrimaryKeyConstraint("state"),
    )


def downgrade() -> None:
    for table in ("sso_logins", "sso_sessions", "sso_identities", "sso_configs"):
        op.drop_table(table)
