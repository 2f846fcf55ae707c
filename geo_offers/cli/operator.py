"""Operator commands: database migrations, merchants and API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from geo_offers.kit import migrate
from geo_offers.kit.clock import utc_now
from geo_offers.kit.database import open_database
from geo_offers.settings import Settings
from geo_offers.tenants import keys as key_repo
from geo_offers.tenants import merchants as merchant_repo

db = typer.Typer(name="db", help="The database schema.", no_args_is_help=True)
merchants = typer.Typer(
    name="merchants", help="Merchants: the tenants whose stores and deals are served.", no_args_is_help=True
)
keys = typer.Typer(name="keys", help="API keys: create, list, revoke.", no_args_is_help=True)


@db.command("upgrade")
def db_upgrade(
    revision: Annotated[
        str,
        typer.Option("--revision", metavar="REVISION", help="The Alembic revision to migrate to; head is the newest."),
    ] = "head",
) -> int:
    """Apply the database migrations.

    Migrates up to the newest revision, or to --revision. Running it again changes nothing.
    """
    migrate.upgrade(Settings(), revision)
    return 0


@merchants.command("create")
def merchant_create(name: Annotated[str, typer.Argument(metavar="NAME", help="The merchant's name.")]) -> int:
    """Create a merchant; prints only its id."""
    with open_database(Settings()) as database, database.transaction() as session:
        merchant_id = merchant_repo.create_merchant(session, name).id
    print(merchant_id)
    return 0


@keys.command("create")
def key_create(
    role: Annotated[
        key_repo.Role, typer.Option("--role", metavar="ROLE", help="What the key may do: app, merchant, dpo or admin.")
    ],
    merchant: Annotated[
        int | None, typer.Option(metavar="ID", help="The merchant a merchant key is bound to (merchant keys only).")
    ] = None,
    label: Annotated[
        str, typer.Option(metavar="TEXT", help="A note shown in the key list, such as who holds the key.")
    ] = "",
) -> int:
    """Create an API key; prints only the key.

    The key is shown once and stored only as a hash.
    """
    with open_database(Settings()) as database, database.transaction() as session:
        issued = key_repo.create_key(session, role, merchant, label)
    print(issued.key)
    return 0


@keys.command("revoke")
def key_revoke(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id: the 12 hex digits after gok_.")],
) -> int:
    """Revoke an API key.

    The key is refused from the next request on, on every instance.
    """
    with open_database(Settings()) as database, database.transaction() as session:
        key_repo.revoke_key(session, key_id, utc_now())
    return 0


@keys.command("list")
def key_list() -> int:
    """List API keys, never their secrets.

    One line a key, tab-separated: id, role, merchant, created, revoked, label.
    """
    with open_database(Settings()) as database, database.sessions() as session:
        for row in key_repo.list_keys(session):
            revoked = row.revoked_at.isoformat() if row.revoked_at else "-"
            merchant = row.merchant_id if row.merchant_id is not None else "-"
            print(f"{row.id}\t{row.role}\t{merchant}\t{row.created_at.isoformat()}\t{revoked}\t{row.label}")
    return 0
