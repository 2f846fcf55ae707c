"""Anonymous insights: hourly and daily deal counters, coarse activity counters, the privacy-budget log.

Revision ID: 0005_insights
Revises: 0004_audit
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision: str = "0005_insights"
down_revision: str | None = "0004_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = postgresql.TIMESTAMP(timezone=True)
KINDS = "kind IN ('served', 'impression', 'click', 'redeem')"
# An H3 cell index at resolution 6: mode 1 (cell), resolution digits 52-55 = 6, digits 7..15 unused (all ones).
RES6_CELL = "(cell >> 59) & 15 = 1 AND (cell >> 52) & 15 = 6 AND cell & 134217727 = 134217727"
WHOLE_HOUR = "extract(epoch FROM hour) = floor(extract(epoch FROM hour) / 3600) * 3600"


def upgrade() -> None:
    op.create_table(
        "deal_hour_counts",
        sa.Column("deal_id", sa.BigInteger(), nullable=False),
        sa.Column("hour", TS, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(KINDS, name=op.f("ck_deal_hour_counts_kind")),
        sa.CheckConstraint("count > 0", name=op.f("ck_deal_hour_counts_positive")),
        sa.CheckConstraint(WHOLE_HOUR, name=op.f("ck_deal_hour_counts_whole_hour")),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deals.id"], name=op.f("fk_deal_hour_counts_deal_id_deals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("deal_id", "hour", "kind", name=op.f("pk_deal_hour_counts")),
    )
    op.create_index("ix_deal_hour_counts_hour", "deal_hour_counts", ["hour"])
    op.create_table(
        "deal_day_counts",
        sa.Column("deal_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(KINDS, name=op.f("ck_deal_day_counts_kind")),
        sa.CheckConstraint("count > 0", name=op.f("ck_deal_day_counts_positive")),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deals.id"], name=op.f("fk_deal_day_counts_deal_id_deals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("deal_id", "day", "kind", name=op.f("pk_deal_day_counts")),
    )
    op.create_index("ix_deal_day_counts_day", "deal_day_counts", ["day"])
    op.create_table(
        "activity_counts",
        sa.Column("cell", sa.BigInteger(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("hour_of_week", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(RES6_CELL, name=op.f("ck_activity_counts_res6_cell")),
        sa.CheckConstraint("extract(isodow FROM week) = 1", name=op.f("ck_activity_counts_monday")),
        sa.CheckConstraint("hour_of_week BETWEEN 0 AND 167", name=op.f("ck_activity_counts_hour_of_week")),
        sa.CheckConstraint("count > 0", name=op.f("ck_activity_counts_positive")),
        sa.PrimaryKeyConstraint("cell", "week", "hour_of_week", name=op.f("pk_activity_counts")),
    )
    op.create_index("ix_activity_counts_week", "activity_counts", ["week"])
    op.create_table(
        "privacy_budget_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("released_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=True),
        sa.Column("figure", sa.Text(), nullable=False),
        sa.Column("mechanism", sa.Text(), nullable=False),
        sa.Column("epsilon", sa.Double(), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("figures", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "epsilon > 0 AND k > 0 AND figures >= suppressed AND suppressed >= 0",
            name=op.f("ck_privacy_budget_log_sane"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_budget_log")),
    )
    op.create_index("ix_privacy_budget_log_merchant_id_id", "privacy_budget_log", ["merchant_id", "id"])
    op.execute(
        """
        CREATE TRIGGER privacy_budget_log_guard BEFORE UPDATE OR DELETE ON privacy_budget_log
            FOR EACH ROW EXECUTE FUNCTION reject_history_change();
        CREATE TRIGGER privacy_budget_log_guard_truncate BEFORE TRUNCATE ON privacy_budget_log
            FOR EACH STATEMENT EXECUTE FUNCTION reject_history_change();
        """
    )
    role = str(context.config.attributes.get("app_role") or "")
    if role:
        # Counters: upserted by the flush (INSERT ... ON CONFLICT DO UPDATE), rolled up and deleted by the
        # retention job, read by insights. The budget log is append-only: INSERT and SELECT only.
        op.execute(
            f"""
            DO $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                    REVOKE ALL ON deal_hour_counts, deal_day_counts, activity_counts, privacy_budget_log
                        FROM "{role}";
                    GRANT SELECT, INSERT, UPDATE, DELETE ON deal_hour_counts, deal_day_counts, activity_counts
                        TO "{role}";
                    GRANT SELECT, INSERT ON privacy_budget_log TO "{role}";
                END IF;
            END $$;
            """
        )


def downgrade() -> None:
    op.drop_table("privacy_budget_log")
    op.drop_table("activity_counts")
    op.drop_table("deal_day_counts")
    op.drop_table("deal_hour_counts")
