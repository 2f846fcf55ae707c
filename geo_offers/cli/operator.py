"""Operator commands: database migrations, merchants and API keys."""

from __future__ import annotations

import argparse
from typing import Any

from geo_offers.kit import migrate
from geo_offers.kit.clock import utc_now
from geo_offers.kit.database import open_database
from geo_offers.settings import Settings
from geo_offers.tenants import keys as key_repo
from geo_offers.tenants import merchants as merchant_repo


def register(groups: Any) -> None:
    """Add the ``db``, ``merchants`` and ``keys`` commands."""
    db = groups.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    up = db.add_parser("upgrade", help="apply migrations up to the newest revision (or --revision)")
    up.add_argument("--revision", default="head")
    up.set_defaults(handler=_db_upgrade)

    merchants = groups.add_parser("merchants", help="tenants").add_subparsers(dest="action", required=True)
    create = merchants.add_parser("create", help="create a merchant; prints only its id")
    create.add_argument("name")
    create.set_defaults(handler=_merchant_create)

    keys = groups.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    kc = keys.add_parser("create", help="create a key; prints only the key")
    kc.add_argument("--role", required=True, choices=key_repo.ROLES)
    kc.add_argument("--merchant", type=int, default=None, help="merchant id (merchant keys only)")
    kc.add_argument("--label", default="")
    kc.set_defaults(handler=_key_create)
    kr = keys.add_parser("revoke", help="revoke a key by its id (the 12 hex digits after gok_)")
    kr.add_argument("key_id")
    kr.set_defaults(handler=_key_revoke)
    kl = keys.add_parser("list", help="list keys (never their secrets)")
    kl.set_defaults(handler=_key_list)


def _db_upgrade(args: argparse.Namespace) -> int:
    migrate.upgrade(Settings(), args.revision)
    return 0


def _merchant_create(args: argparse.Namespace) -> int:
    with open_database(Settings()) as db, db.transaction() as session:
        merchant_id = merchant_repo.create_merchant(session, args.name).id
    print(merchant_id)
    return 0


def _key_create(args: argparse.Namespace) -> int:
    with open_database(Settings()) as db, db.transaction() as session:
        issued = key_repo.create_key(session, args.role, args.merchant, args.label)
    print(issued.key)
    return 0


def _key_revoke(args: argparse.Namespace) -> int:
    with open_database(Settings()) as db, db.transaction() as session:
        key_repo.revoke_key(session, args.key_id, utc_now())
    return 0


def _key_list(args: argparse.Namespace) -> int:
    with open_database(Settings()) as db, db.sessions() as session:
        for row in key_repo.list_keys(session):
            revoked = row.revoked_at.isoformat() if row.revoked_at else "-"
            merchant = row.merchant_id if row.merchant_id is not None else "-"
            print(f"{row.id}\t{row.role}\t{merchant}\t{row.created_at.isoformat()}\t{revoked}\t{row.label}")
    return 0
