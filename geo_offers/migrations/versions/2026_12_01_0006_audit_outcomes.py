"""Audit access log: every audit call with its outcome, refused ones included.

``status`` is the HTTP status the call was answered with; ``key_id`` is empty for a call without a valid key (401).
Rows written before this revision were logged only when the call was answered, in the answering transaction,
so they were all answered with 200: the column is added with that default (no rewrite, no UPDATE, which the
append-only trigger would refuse), and the default is dropped right after.

Revision ID: 0006_audit_outcomes
Revises: 0005_insights
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_audit_outcomes"
down_revision: str | None = "0005_insights"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_access_log", sa.Column("status", sa.SmallInteger(), nullable=False, server_default="200"))
    op.alter_column("audit_access_log", "status", server_default=None)
    op.create_check_constraint(op.f("ck_audit_access_log_status"), "audit_access_log", "status BETWEEN 100 AND 599")
    op.alter_column("audit_access_log", "key_id", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    # Rows without a key id cannot go back under NOT NULL, and the log is append-only: dropping the column and
    # keeping key_id nullable is the honest downgrade.
    op.drop_constraint(op.f("ck_audit_access_log_status"), "audit_access_log", type_="check")
    op.drop_column("audit_access_log", "status")
