"""Insights count people: a rolled-up day keeps its largest hourly counter (``peak``), on which publication rests.

Days rolled up before this revision counted events, not people; their peak is unknown and is set to 0, so they
are never published as resting on k people.

Revision ID: 0010_people
Revises: 0009_deal_changes
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_people"
down_revision: str | None = "0009_deal_changes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deal_day_counts", sa.Column("peak", sa.BigInteger(), server_default="0", nullable=False))
    op.create_check_constraint(op.f("ck_deal_day_counts_peak"), "deal_day_counts", "peak BETWEEN 0 AND count")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_deal_day_counts_peak"), "deal_day_counts", type_="check")
    op.drop_column("deal_day_counts", "peak")
