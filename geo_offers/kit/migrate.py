"""Alembic, driven from Python: upgrade, and compare the database with the newest revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData

from geo_offers.settings import Settings

#: The Alembic scripts ship inside the package, so an installed wheel migrates without any path setting.
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def target_metadata() -> list[MetaData]:
    """The ORM metadata of the whole schema (every domain's models, and the consent service's)."""
    from consent.models import ConsentBase
    from geo_offers.codes import models as _codes  # noqa: F401
    from geo_offers.console import models as _console  # noqa: F401
    from geo_offers.insights import models as _insights  # noqa: F401 - importing registers the tables
    from geo_offers.kit.orm import Base
    from geo_offers.places import models as _places  # noqa: F401
    from geo_offers.tenants import models as _tenants  # noqa: F401

    return [Base.metadata, ConsentBase.metadata]


def alembic_config(settings: Settings, url: str | None = None) -> Config:
    """An Alembic config pointing at the project's migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url or settings.database_url
    cfg.attributes["app_role"] = settings.database_role
    return cfg


def upgrade(settings: Settings, revision: str = "head", url: str | None = None) -> None:
    """Apply migrations up to ``revision`` (as the login role, never the restricted service role)."""
    command.upgrade(alembic_config(settings, url), revision)


def head_revision(settings: Settings) -> str | None:
    """The newest revision in the migrations folder."""
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the connected database is at (None before the first upgrade)."""
    return MigrationContext.configure(connection).get_current_revision()
