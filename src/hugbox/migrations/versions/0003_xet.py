"""xet storage (named so it cannot collide with other branches' 0003 migrations)

Revision ID: 0003_xet
Revises: 0002
Create Date: 2026-11-25 14:39:05.808160
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hugbox.db

revision = "0003_xet"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xet_files",
        sa.Column("file_hash", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("created_at", hugbox.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("file_hash"),
    )
    with op.batch_alter_table("xet_files", schema=None) as batch_op:
        batch_op.create_index("ix_xet_files_sha256", ["sha256"], unique=False)

    op.create_table(
        "xet_xorbs",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("stored_size", sa.BigInteger(), nullable=False),
        sa.Column("unpacked_size", sa.BigInteger(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("chunks", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", hugbox.db.UTCDateTime(), nullable=False),
        sa.Column("touched_at", hugbox.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_table(
        "xet_dedup",
        sa.Column("chunk_hash", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.Integer(), nullable=False),
        sa.Column("xorb_hash", sa.String(length=64), nullable=False),
        sa.Column("file_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["xorb_hash"], ["xet_xorbs.hash"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("chunk_hash", "domain"),
    )
    op.create_table(
        "xet_file_repos",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("file_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", hugbox.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["file_hash"], ["xet_files.file_hash"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk", "file_hash"),
    )


def downgrade() -> None:
    op.drop_table("xet_file_repos")
    op.drop_table("xet_dedup")
    op.drop_table("xet_xorbs")
    with op.batch_alter_table("xet_files", schema=None) as batch_op:
        batch_op.drop_index("ix_xet_files_sha256")

    op.drop_table("xet_files")
