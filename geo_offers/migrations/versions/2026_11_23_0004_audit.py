"""Audit: signed ledger checkpoints and the log of who read audit data.

Both tables are append-only like the ledger: the guard trigger refuses UPDATE, DELETE and TRUNCATE for every
role, and the service role gets only SELECT and INSERT on them.

Revision ID: 0004_audit
Revises: 0003_spatial
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision: str = "0004_audit"
down_revision: str | None = "0003_spatial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = postgresql.TIMESTAMP(timezone=True)
APPEND_ONLY = ("ledger_checkpoints", "audit_access_log")


def upgrade() -> None:
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at", TS, nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoints")),
    )
    op.create_index("ix_ledger_checkpoints_seq", "ledger_checkpoints", ["seq"])
    op.create_table(
        "audit_access_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("route", sa.Text(), nullable=False),
        sa.Column("params", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_access_log")),
    )
    op.create_index("ix_audit_access_log_at", "audit_access_log", ["at"])
    for table in APPEND_ONLY:
        op.execute(
            f"""
            CREATE TRIGGER {table}_guard BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION reject_history_change();
            CREATE TRIGGER {table}_guard_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION reject_history_change();
            """
        )
    role = str(context.config.attributes.get("app_role") or "")
    if role:
        # The default privileges of the foundation revision gave full DML; narrow it to what the service does.
        op.execute(
            f"""
            DO $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                    REVOKE ALL ON ledger_checkpoints, audit_access_log FROM "{role}";
                    GRANT SELECT, INSERT ON ledger_checkpoints, audit_access_log TO "{role}";
                END IF;
            END $$;
            """
        )


def downgrade() -> None:
    op.execute("DROP TABLE audit_access_log")
    op.execute("DROP TABLE ledger_checkpoints")
