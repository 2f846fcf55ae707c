"""Foundation: merchants, API keys and the least-privilege service role.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision: str = "0001_foundation"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _app_role() -> str:
    return str(context.config.attributes.get("app_role") or "")


def upgrade() -> None:
    role = _app_role()
    if role:
        # The service runs as this role (SET ROLE after connecting); it gets plain DML on ordinary tables
        # and, on the ledger, only SELECT and INSERT (see the consent revision). Creating roles needs
        # CREATEROLE; where the migrating user lacks it, an operator creates the role beforehand.
        op.execute(
            f"""
            DO $$
            BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                    CREATE ROLE "{role}" NOLOGIN;
                END IF;
                IF NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
                    EXECUTE format('GRANT %I TO %I', '{role}', current_user);
                END IF;
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE NOTICE 'could not create or grant role {role}; create it as an administrator';
            END $$;
            """
        )
        op.execute(
            f"""
            DO $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                    GRANT USAGE ON SCHEMA public TO "{role}";
                    -- /readyz compares the schema revision with the code's, as the service role.
                    GRANT SELECT ON alembic_version TO "{role}";
                    ALTER DEFAULT PRIVILEGES IN SCHEMA public
                        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{role}";
                    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO "{role}";
                END IF;
            END $$;
            """
        )

    op.create_table(
        "merchants",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchants")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=True),
        sa.Column("label", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", postgresql.TIMESTAMP(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", postgresql.TIMESTAMP(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('app', 'merchant', 'dpo', 'admin')", name=op.f("ck_api_keys_role")),
        sa.CheckConstraint(
            "(role = 'merchant') = (merchant_id IS NOT NULL)", name=op.f("ck_api_keys_merchant_binding")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_api_keys_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_index(op.f("ix_api_keys_merchant_id"), "api_keys", ["merchant_id"])
    # Instances drop cached keys when told, so a revocation works at once everywhere.
    op.execute(
        """
        CREATE FUNCTION notify_api_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('geo_offers_keys', COALESCE(NEW.id, OLD.id));
            RETURN NULL;
        END $$;
        CREATE TRIGGER api_keys_notify AFTER INSERT OR UPDATE OR DELETE ON api_keys
            FOR EACH ROW EXECUTE FUNCTION notify_api_key_change();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS api_keys_notify ON api_keys")
    op.execute("DROP FUNCTION IF EXISTS notify_api_key_change()")
    op.drop_index(op.f("ix_api_keys_merchant_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("merchants")
    role = _app_role()
    if role:
        op.execute(
            f"""
            DO $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                    ALTER DEFAULT PRIVILEGES IN SCHEMA public
                        REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM "{role}";
                    ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM "{role}";
                END IF;
            END $$;
            """
        )
