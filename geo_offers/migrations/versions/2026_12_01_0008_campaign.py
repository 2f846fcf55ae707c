"""Campaign tools without tracking: frequency rules on deals (enforced on the device) and one-time codes.

Revision ID: 0008_campaign
Revises: 0007_console_sessions
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_campaign"
down_revision: str | None = "0007_console_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = postgresql.TIMESTAMP(timezone=True)
WHOLE_HOUR = "extract(epoch FROM {0}) = floor(extract(epoch FROM {0}) / 3600) * 3600"

# The deals trigger of 0003_spatial, now also waking the index when the frequency rules change and when a code
# pool appears, is used up (0 codes left) or is filled again; a claim that leaves codes over stays quiet.
NOTIFY_DEAL_CHANGE = """
CREATE OR REPLACE FUNCTION notify_deal_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (OLD.status, OLD.title, OLD.description, OLD.category, OLD.area, OLD.valid_from,
            OLD.valid_until, OLD.windows, OLD.max_redemptions, OLD.store_id, OLD.updated_at{extra_old})
           IS NOT DISTINCT FROM
           (NEW.status, NEW.title, NEW.description, NEW.category, NEW.area, NEW.valid_from,
            NEW.valid_until, NEW.windows, NEW.max_redemptions, NEW.store_id, NEW.updated_at{extra_new})
       AND (NEW.max_redemptions IS NULL OR NEW.redemptions < NEW.max_redemptions) THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('geo_offers_deals', 'd:' || COALESCE(NEW.id, OLD.id));
    RETURN NULL;
END $$;
"""
_EXTRA = ", {0}.frequency_rules, {0}.codes_left IS NULL, {0}.codes_left > 0"


def upgrade() -> None:
    op.add_column(
        "deals",
        sa.Column(
            "frequency_rules",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column("deals", sa.Column("codes_left", sa.Integer(), nullable=True))
    op.create_check_constraint(op.f("ck_deals_frequency_rules"), "deals", "jsonb_typeof(frequency_rules) = 'array'")
    op.create_check_constraint(op.f("ck_deals_codes_left"), "deals", "codes_left IS NULL OR codes_left >= 0")
    op.create_table(
        "code_pools",
        sa.Column("deal_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("alphabet", sa.Text(), nullable=True),
        sa.Column("length", sa.SmallInteger(), nullable=True),
        sa.Column("claim_tokens", sa.Double(), nullable=False),
        sa.Column("tokens_at", TS, nullable=False),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("source IN ('upload', 'generate')", name=op.f("ck_code_pools_source")),
        sa.CheckConstraint(
            "(source = 'generate') = (alphabet IS NOT NULL) AND (alphabet IS NULL) = (length IS NULL)",
            name=op.f("ck_code_pools_generated"),
        ),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deals.id"], name=op.f("fk_code_pools_deal_id_deals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_code_pools_merchant_id_merchants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("deal_id", name=op.f("pk_code_pools")),
    )
    op.create_index("ix_code_pools_merchant_id", "code_pools", ["merchant_id"])
    op.create_table(
        "deal_codes",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("deal_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("used_at", TS, nullable=True),
        sa.CheckConstraint("octet_length(code_hash) = 32", name=op.f("ck_deal_codes_digest")),
        sa.CheckConstraint("claimed_at IS NULL OR sealed IS NULL", name=op.f("ck_deal_codes_claimed_not_kept")),
        sa.CheckConstraint("used_at IS NULL OR claimed_at IS NOT NULL", name=op.f("ck_deal_codes_used_after_claim")),
        sa.CheckConstraint(WHOLE_HOUR.format("claimed_at"), name=op.f("ck_deal_codes_claimed_hour")),
        sa.CheckConstraint(WHOLE_HOUR.format("used_at"), name=op.f("ck_deal_codes_used_hour")),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deals.id"], name=op.f("fk_deal_codes_deal_id_deals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_deal_codes_merchant_id_merchants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_codes")),
        sa.UniqueConstraint("merchant_id", "code_hash", name=op.f("uq_deal_codes_merchant_id_code_hash")),
    )
    op.create_index("ix_deal_codes_deal_id", "deal_codes", ["deal_id"])
    op.create_index(
        "ix_deal_codes_available",
        "deal_codes",
        ["deal_id", "id"],
        postgresql_where=sa.text("claimed_at IS NULL AND sealed IS NOT NULL"),
    )
    op.execute(NOTIFY_DEAL_CHANGE.format(extra_old=_EXTRA.format("OLD"), extra_new=_EXTRA.format("NEW")))


def downgrade() -> None:
    op.execute(NOTIFY_DEAL_CHANGE.format(extra_old="", extra_new=""))
    op.drop_table("deal_codes")
    op.drop_table("code_pools")
    op.drop_constraint("ck_deals_codes_left", "deals", type_="check")
    op.drop_constraint("ck_deals_frequency_rules", "deals", type_="check")
    op.drop_column("deals", "codes_left")
    op.drop_column("deals", "frequency_rules")
