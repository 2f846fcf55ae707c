"""Demo data: a few merchants in Berlin, Hamburg and Munich, and keys to try the API with."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from geo_offers import keys as key_repo
from geo_offers import merchants as merchant_repo
from geo_offers.models import Merchant

DEMO_MERCHANTS = ("Rösterei am Kiez", "Sporthaus Alster", "Markthalle Viktualien")


@dataclass(frozen=True)
class DemoKeys:
    app: str
    merchant: str
    dpo: str
    admin: str


def seed(session: Session) -> tuple[bool, DemoKeys]:
    """Load the demo data unless it is there already; always issue a fresh set of demo keys.

    Returns whether data was loaded and the keys (shown once).
    """
    existing = session.scalars(select(Merchant).where(Merchant.name == DEMO_MERCHANTS[0])).first()
    loaded = existing is None
    if existing is None:
        merchant_ids = [merchant_repo.create_merchant(session, name).id for name in DEMO_MERCHANTS]
        first = merchant_ids[0]
    else:
        first = existing.id
    issued = DemoKeys(
        app=key_repo.create_key(session, "app", label="demo").key,
        merchant=key_repo.create_key(session, "merchant", first, label="demo").key,
        dpo=key_repo.create_key(session, "dpo", label="demo").key,
        admin=key_repo.create_key(session, "admin", label="demo").key,
    )
    return loaded, issued
