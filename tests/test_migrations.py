"""Migrations: upgrade from empty works, every revision downgrades, and the models match the schema."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool

from geo_offers.kit.database import sqlalchemy_url
from geo_offers.kit.migrate import alembic_config, head_revision, target_metadata
from tests.helpers import make_settings


def test_models_match_the_migrated_schema(database_url: str) -> None:
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"include_object": alembic_helpers.include_object, "compare_type": True},
        )
        diff = compare_metadata(context, target_metadata())
    assert diff == []


def test_downgrade_to_empty_and_upgrade_again(fresh_database_url: str) -> None:
    settings = make_settings(fresh_database_url)
    cfg = alembic_config(settings, fresh_database_url)
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
    engine = create_engine(sqlalchemy_url(fresh_database_url), poolclass=pool.NullPool)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision(settings)
