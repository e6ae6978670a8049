"""spaces runtimes, secrets and variables (after 0004_viewer: one line of history)

Revision ID: 0005_spaces
Revises: 0004_viewer
Create Date: 2026-11-25 17:07:27.386212
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hugbox.db

revision = "0005_spaces"
down_revision = "0004_viewer"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "space_runtimes",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("requested_sha", sa.String(length=40), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.Column("factory_restarts", sa.Integer(), nullable=False),
        sa.Column("sleep_time", sa.Integer(), nullable=True),
        sa.Column("hardware", sa.String(length=32), nullable=False),
        sa.Column(
            "stage",
            sa.Enum(
                "NO_APP_FILE",
                "CONFIG_ERROR",
                "BUILDING",
                "BUILD_ERROR",
                "APP_STARTING",
                "RUNNING",
                "RUNNING_BUILDING",
                "RUNNING_APP_STARTING",
                "RUNTIME_ERROR",
                "SLEEPING",
                "PAUSED",
                "STOPPED",
                "DELETING",
                name="spacestage",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("built_sha", sa.String(length=40), nullable=True),
        sa.Column("running_sha", sa.String(length=40), nullable=True),
        sa.Column("updated_at", hugbox.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk"),
    )
    op.create_table(
        "space_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("secret", "variable", name="settingkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("updated_at", hugbox.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repo_pk", "kind", "key"),
    )
    with op.batch_alter_table("space_settings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_space_settings_repo_pk"), ["repo_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("space_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_space_settings_repo_pk"))

    op.drop_table("space_settings")
    op.drop_table("space_runtimes")
