"""Deal changes as rows: a per-transaction sequence, written by the deals and stores triggers with the change.

NOTIFY does not cross streaming replication, so an instance that reads from a standby cannot hear it. The same
triggers now also write one row per changed deal (or store) into ``deal_changes``, numbered with the sequence
number of the writing transaction. That number comes from the one row of ``deal_change_head``, updated under its
row lock by the first change of a transaction: the lock is held until commit, so transactions get their numbers
in commit order and a rolled-back transaction gives its number back. A reader (on the primary or any standby)
that has applied everything up to N therefore finds everything newer with ``seq > N``, never a number that
appears later below one it has seen. NOTIFY stays as the fast wake-up where an instance has LISTEN.

Revision ID: 0009_deal_changes
Revises: 0008_campaign
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_deal_changes"
down_revision: str | None = "0008_campaign"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = postgresql.TIMESTAMP(timezone=True)

# The transaction's change number: taken once (the head row stays locked until commit), then remembered in a
# transaction-local setting keyed by the transaction id, so a transaction's every change row shares it.
CHANGE_SEQ = """
CREATE FUNCTION deal_change_seq() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    mine text := current_setting('geo_offers.deal_change', true);
    xid text := txid_current()::text;
    taken bigint;
BEGIN
    IF mine IS NOT NULL AND split_part(mine, ':', 1) = xid THEN
        RETURN split_part(mine, ':', 2)::bigint;
    END IF;
    UPDATE deal_change_head SET seq = seq + 1 RETURNING seq INTO taken;
    PERFORM set_config('geo_offers.deal_change', xid || ':' || taken, true);
    RETURN taken;
END $$;
"""

# 0008's deals trigger, now also writing the change row; what wakes the index is unchanged.
DEAL_CHANGE = """
CREATE OR REPLACE FUNCTION notify_deal_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (OLD.status, OLD.title, OLD.description, OLD.category, OLD.area, OLD.valid_from,
            OLD.valid_until, OLD.windows, OLD.max_redemptions, OLD.store_id, OLD.updated_at,
            OLD.frequency_rules, OLD.codes_left IS NULL, OLD.codes_left > 0)
           IS NOT DISTINCT FROM
           (NEW.status, NEW.title, NEW.description, NEW.category, NEW.area, NEW.valid_from,
            NEW.valid_until, NEW.windows, NEW.max_redemptions, NEW.store_id, NEW.updated_at,
            NEW.frequency_rules, NEW.codes_left IS NULL, NEW.codes_left > 0)
       AND (NEW.max_redemptions IS NULL OR NEW.redemptions < NEW.max_redemptions) THEN
        RETURN NULL;
    END IF;
    {write}
    PERFORM pg_notify('geo_offers_deals', 'd:' || COALESCE(NEW.id, OLD.id));
    RETURN NULL;
END $$;
"""
DEAL_ROW = "INSERT INTO deal_changes (seq, deal_id) VALUES (deal_change_seq(), COALESCE(NEW.id, OLD.id));"

STORE_CHANGE = """
CREATE OR REPLACE FUNCTION notify_store_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {write}
    PERFORM pg_notify('geo_offers_deals', 's:' || OLD.id);
    RETURN NULL;
END $$;
"""
STORE_ROW = "INSERT INTO deal_changes (seq, store_id) VALUES (deal_change_seq(), OLD.id);"


def upgrade() -> None:
    op.create_table(
        "deal_change_head",
        sa.Column("one", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("one", name=op.f("ck_deal_change_head_one_row")),
        sa.PrimaryKeyConstraint("one", name=op.f("pk_deal_change_head")),
    )
    op.execute("INSERT INTO deal_change_head (one, seq) VALUES (true, 0)")
    op.create_table(
        "deal_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("deal_id", sa.BigInteger(), nullable=True),
        sa.Column("store_id", sa.BigInteger(), nullable=True),
        sa.Column("at", TS, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("(deal_id IS NULL) <> (store_id IS NULL)", name=op.f("ck_deal_changes_one_subject")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_changes")),
    )
    op.create_index(op.f("ix_deal_changes_seq"), "deal_changes", ["seq"])
    op.create_index(op.f("ix_deal_changes_at"), "deal_changes", ["at"])
    op.execute(CHANGE_SEQ)
    op.execute(DEAL_CHANGE.format(write=DEAL_ROW))
    op.execute(STORE_CHANGE.format(write=STORE_ROW))


def downgrade() -> None:
    op.execute(DEAL_CHANGE.format(write=""))
    op.execute(STORE_CHANGE.format(write=""))
    op.execute("DROP FUNCTION deal_change_seq()")
    op.drop_table("deal_changes")
    op.drop_table("deal_change_head")
