"""Scratch PostgreSQL databases with PostGIS, migrated to head: the one helper the suite and the benchmarks use."""

from __future__ import annotations

import psycopg2
from sqlalchemy.engine import make_url

from geo_offers.kit import migrate
from geo_offers.settings import Settings


def _execute(url: str, sql: str) -> None:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def url_for(admin_url: str, name: str) -> str:
    """The admin URL pointed at database ``name``."""
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def create_database(admin_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``admin_url`` (a superuser URL), add PostGIS, migrate it to
    head, and return its URL."""
    _execute(admin_url, f'CREATE DATABASE "{name}"')
    url = url_for(admin_url, name)
    _execute(url, "CREATE EXTENSION IF NOT EXISTS postgis")
    migrate.upgrade(Settings(database_url=url), url=url)
    return url


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name``, closing whatever still connects to it."""
    _execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
