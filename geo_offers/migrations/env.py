"""Alembic environment: one metadata per package (``target_metadata``), geoalchemy2's helpers for spatial types."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import Connection, create_engine, pool

from geo_offers.kit.database import sqlalchemy_url
from geo_offers.kit.migrate import target_metadata
from geo_offers.settings import Settings

config = context.config


def _url() -> str:
    url = config.attributes.get("url")
    return str(url) if url else Settings().database_url


def run_migrations_online() -> None:
    """Run against a live connection (the only mode this project uses)."""
    if "app_role" not in config.attributes:
        config.attributes["app_role"] = Settings().database_role
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(sqlalchemy_url(_url()), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        include_object=alembic_helpers.include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
