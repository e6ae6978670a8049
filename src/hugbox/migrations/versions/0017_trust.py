"""file_scans, unsafe_weights_allowed, secret_scans and audit_entries: security scan verdicts
per blob, the repos whose admins let inference load weights found unsafe, the secrets found in
text files, and the append-only audit log

Revision ID: 0017_trust
Revises: 0016_social
Create Date: 2026-12-07 09:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_trust"
down_revision = "0016_social"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_scans",
        sa.Column("oid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pickle_imports", sa.JSON(), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column("scanner", sa.String(length=64), nullable=False),
        sa.Column("scanned_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("oid"),
    )
    op.create_table(
        "unsafe_weights_allowed",
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("allowed_by", sa.String(length=96), nullable=False),
        sa.Column("allowed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["repo_pk"], ["repos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repo_pk"),
    )

    op.create_table(
        "secret_scans",
        sa.Column("oid", sa.String(length=40), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("scanned_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("oid"),
    )
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=96), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("namespace", sa.String(length=96), nullable=True),
        sa.Column("repo_type", sa.String(length=16), nullable=True),
        sa.Column("repo_id", sa.String(length=200), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_entries_namespace_id", "audit_entries", ["namespace", "id"])
    op.create_index("ix_audit_entries_created_at", "audit_entries", ["created_at"])
    _append_only()


def _append_only() -> None:
    """The database itself refuses to change or delete an audit entry, whatever code runs."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries "
            "FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_entries_no_{event.lower()} BEFORE {event} ON audit_entries "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )


def downgrade() -> None:
    op.drop_table("audit_entries")
    op.drop_table("secret_scans")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_entries_append_only()")
    op.drop_table("unsafe_weights_allowed")
    op.drop_table("file_scans")
