"""Spatial core: stores, deals (PostGIS geometry) and their H3 coverage; change notifications.

Revision ID: 0003_spatial
Revises: 0002_consent
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_spatial"
down_revision: str | None = "0002_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = postgresql.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "stores",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column(
            "location",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("categories", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_stores_merchant_id_merchants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stores")),
    )
    op.create_index("ix_stores_merchant_id_id", "stores", ["merchant_id", "id"])
    op.create_index("ix_stores_location", "stores", ["location"], postgresql_using="gist")

    op.create_table(
        "deals",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("store_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("area_kind", sa.Text(), nullable=False),
        sa.Column("radius_m", sa.Integer(), nullable=True),
        sa.Column(
            "area",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("valid_from", TS, nullable=False),
        sa.Column("valid_until", TS, nullable=False),
        sa.Column("windows", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("redemptions", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('draft', 'active', 'paused', 'ended')", name=op.f("ck_deals_status")),
        sa.CheckConstraint("area_kind IN ('radius', 'polygon')", name=op.f("ck_deals_area_kind")),
        sa.CheckConstraint(
            "(area_kind = 'radius') = (radius_m IS NOT NULL) AND (radius_m IS NULL OR radius_m BETWEEN 50 AND 50000)",
            name=op.f("ck_deals_radius"),
        ),
        sa.CheckConstraint("valid_from < valid_until", name=op.f("ck_deals_validity")),
        sa.CheckConstraint("max_redemptions IS NULL OR max_redemptions > 0", name=op.f("ck_deals_quota")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_deals_merchant_id_merchants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_deals_store_id_stores"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deals")),
    )
    op.create_index("ix_deals_merchant_id_id", "deals", ["merchant_id", "id"])
    op.create_index("ix_deals_store_id", "deals", ["store_id"])
    op.create_index("ix_deals_area", "deals", ["area"], postgresql_using="gist")

    op.create_table(
        "deal_cells",
        sa.Column("cell", sa.BigInteger(), nullable=False),
        sa.Column("deal_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deals.id"], name=op.f("fk_deal_cells_deal_id_deals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("cell", "deal_id", name=op.f("pk_deal_cells")),
    )
    op.create_index("ix_deal_cells_deal_id", "deal_cells", ["deal_id"])

    # Every instance keeps an in-memory index of matchable deals and refreshes it from these notifications.
    # A redemption only matters to the index when it uses up the quota, so other counter bumps stay quiet.
    op.execute(
        """
        CREATE FUNCTION notify_deal_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE'
               AND (OLD.status, OLD.title, OLD.description, OLD.category, OLD.area, OLD.valid_from,
                    OLD.valid_until, OLD.windows, OLD.max_redemptions, OLD.store_id, OLD.updated_at)
                   IS NOT DISTINCT FROM
                   (NEW.status, NEW.title, NEW.description, NEW.category, NEW.area, NEW.valid_from,
                    NEW.valid_until, NEW.windows, NEW.max_redemptions, NEW.store_id, NEW.updated_at)
               AND (NEW.max_redemptions IS NULL OR NEW.redemptions < NEW.max_redemptions) THEN
                RETURN NULL;
            END IF;
            PERFORM pg_notify('geo_offers_deals', 'd:' || COALESCE(NEW.id, OLD.id));
            RETURN NULL;
        END $$;
        CREATE TRIGGER deals_notify AFTER INSERT OR UPDATE OR DELETE ON deals
            FOR EACH ROW EXECUTE FUNCTION notify_deal_change();

        CREATE FUNCTION notify_store_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('geo_offers_deals', 's:' || OLD.id);
            RETURN NULL;
        END $$;
        CREATE TRIGGER stores_notify AFTER UPDATE OR DELETE ON stores
            FOR EACH ROW EXECUTE FUNCTION notify_store_change();
        """
    )


def downgrade() -> None:
    op.drop_table("deal_cells")
    op.drop_table("deals")
    op.drop_table("stores")
    op.execute("DROP FUNCTION notify_deal_change()")
    op.execute("DROP FUNCTION notify_store_change()")
