"""Consent: notices, pseudonym links, current state, and the append-only hash-chained ledger.

Revision ID: 0002_consent
Revises: 0001_foundation
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision: str = "0002_consent"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = postgresql.TIMESTAMP(timezone=True)
GENESIS = "decode(repeat('00', 32), 'hex')"


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("published_at", TS, nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("canonical", sa.Text(), nullable=False),
        sa.Column("sha256", sa.LargeBinary(), nullable=False),
        sa.Column("fresh_consent_for", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("published_by", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_notices")),
    )
    op.create_table(
        "purpose_floors",
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("min_notice_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("purpose", name=op.f("pk_purpose_floors")),
    )
    op.create_table(
        "subject_links",
        sa.Column("pseudonym", sa.LargeBinary(), nullable=False),
        sa.Column("tag", sa.UUID(), nullable=False),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("pseudonym", name=op.f("pk_subject_links")),
        sa.UniqueConstraint("tag", name=op.f("uq_subject_links_tag")),
    )
    op.create_table(
        "consent_state",
        sa.Column("tag", sa.UUID(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("decision_id", sa.UUID(), nullable=False),
        sa.Column("notice_version", sa.Integer(), nullable=False),
        sa.Column("precision_res", sa.SmallInteger(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("locale", sa.Text(), nullable=False),
        sa.Column("gpc", sa.Boolean(), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("ask_again_after", TS, nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'withdrawn', 'declined', 'expired')", name=op.f("ck_consent_state_status")
        ),
        sa.CheckConstraint(
            "precision_res IS NULL OR precision_res BETWEEN 0 AND 8", name=op.f("ck_consent_state_precision")
        ),
        sa.ForeignKeyConstraint(
            ["tag"],
            ["subject_links.tag"],
            name=op.f("fk_consent_state_tag_subject_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tag", "purpose", name=op.f("pk_consent_state")),
    )
    # The expiry job looks for active consents past their time.
    op.execute("CREATE INDEX ix_consent_state_active_expiry ON consent_state (expires_at) WHERE status = 'active'")
    op.create_table(
        "consent_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("tag", sa.UUID(), nullable=False),
        sa.Column("decision_id", sa.UUID(), nullable=True),
        sa.Column("purposes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("notice_version", sa.Integer(), nullable=True),
        sa.Column("canonical", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_consent_events")),
    )
    op.create_index("ix_consent_events_tag", "consent_events", ["tag"])
    op.create_index("ix_consent_events_occurred_at", "consent_events", ["occurred_at"])
    op.create_index("ix_consent_events_decision_id", "consent_events", ["decision_id"])
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_ledger_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_head")),
    )
    op.execute(f"INSERT INTO ledger_head (id, seq, prev_hash, hash) VALUES (1, 0, {GENESIS}, {GENESIS})")

    # Append-only, enforced by the database for every role including superusers: only a table owner who
    # deliberately disables the trigger can change history, and verification then finds the changed row.
    op.execute(
        """
        CREATE FUNCTION reject_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER consent_events_guard BEFORE UPDATE OR DELETE ON consent_events
            FOR EACH ROW EXECUTE FUNCTION reject_history_change();
        CREATE TRIGGER consent_events_guard_truncate BEFORE TRUNCATE ON consent_events
            FOR EACH STATEMENT EXECUTE FUNCTION reject_history_change();
        CREATE TRIGGER notices_guard BEFORE UPDATE OR DELETE ON notices
            FOR EACH ROW EXECUTE FUNCTION reject_history_change();
        CREATE TRIGGER notices_guard_truncate BEFORE TRUNCATE ON notices
            FOR EACH STATEMENT EXECUTE FUNCTION reject_history_change();
        """
    )
    # A new event must continue the chain exactly: right predecessor, right hash. Writers cannot fork it.
    op.execute(
        f"""
        CREATE FUNCTION consent_events_check_chain() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            expected bytea;
        BEGIN
            IF NEW.seq = 1 THEN
                expected := {GENESIS};
            ELSE
                SELECT hash INTO expected FROM consent_events WHERE seq = NEW.seq - 1;
            END IF;
            IF expected IS NULL OR NEW.prev_hash IS DISTINCT FROM expected THEN
                RAISE EXCEPTION 'consent ledger: event % does not continue the chain', NEW.seq
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF NEW.hash IS DISTINCT FROM sha256(NEW.prev_hash || convert_to(NEW.canonical, 'UTF8')) THEN
                RAISE EXCEPTION 'consent ledger: event % has a wrong hash', NEW.seq
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER consent_events_chain BEFORE INSERT ON consent_events
            FOR EACH ROW EXECUTE FUNCTION consent_events_check_chain();
        """
    )
    role = str(context.config.attributes.get("app_role") or "")
    if role:
        op.execute(
            f"""
            DO $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                    REVOKE UPDATE, DELETE, TRUNCATE ON consent_events, notices FROM "{role}";
                    REVOKE DELETE, TRUNCATE ON ledger_head FROM "{role}";
                END IF;
            END $$;
            """
        )


def downgrade() -> None:
    op.drop_table("ledger_head")
    op.execute("DROP TABLE consent_events")
    op.execute("DROP FUNCTION consent_events_check_chain()")
    op.drop_table("consent_state")
    op.drop_table("subject_links")
    op.drop_table("purpose_floors")
    op.execute("DROP TABLE notices")
    op.execute("DROP FUNCTION reject_history_change()")
