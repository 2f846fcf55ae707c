"""Demo data: a privacy notice, three merchants with stores in Berlin, Hamburg and Munich, live deals, and keys.

Validity dates are relative to the moment of seeding, so the demo deals are live whenever it is run; some deals
have weekly windows (one crosses midnight), one uses a polygon area instead of a radius.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent import notices
from geo_offers.places.deals import repository as deals_repo
from geo_offers.places.stores import repository as stores_repo
from geo_offers.settings import Settings
from geo_offers.tenants import keys as key_repo
from geo_offers.tenants import merchants as merchant_repo
from geo_offers.tenants.models import Merchant

ALWAYS: list[dict[str, Any]] = []
AFTERNOONS = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "15:00", "end": "17:30"}]
LATE = [{"days": ["fri", "sat"], "start": "22:00", "end": "02:00"}]
WEEKEND = [{"days": ["sat", "sun"], "start": "09:00", "end": "18:00"}]

# merchant -> stores: (name, address, lon, lat, categories, deals: (title, description, category, area, windows))
DEMO: dict[str, list[tuple[str, str, float, float, list[str], list[tuple[str, str, str, Any, Any]]]]] = {
    "Rösterei am Kiez": [
        (
            "Rösterei am Kiez Mitte",
            "Rosenthaler Str. 40, 10178 Berlin",
            13.4021,
            52.5262,
            ["cafe"],
            [
                ("Zweiter Kaffee gratis", "Beim Kauf eines Heißgetränks", "cafe", {"radius_m": 800}, AFTERNOONS),
                ("Frühstück -20 %", "Samstags und sonntags", "cafe", {"radius_m": 1500}, WEEKEND),
            ],
        ),
        (
            "Rösterei am Kiez Kreuzberg",
            "Oranienstr. 12, 10999 Berlin",
            13.4205,
            52.5010,
            ["cafe", "bakery"],
            [
                ("Croissant zum Kaffee", "Solange der Vorrat reicht", "bakery", {"radius_m": 600}, ALWAYS),
                ("Espresso-Nacht", "Espresso 1 Euro", "cafe", {"radius_m": 2000}, LATE),
            ],
        ),
    ],
    "Sporthaus Alster": [
        (
            "Sporthaus Alster Jungfernstieg",
            "Jungfernstieg 7, 20354 Hamburg",
            9.9930,
            53.5530,
            ["sports"],
            [
                ("Laufschuhe -30 %", "Alle Modelle der Saison", "sports", {"radius_m": 3000}, ALWAYS),
                (
                    "Alsterlauf-Treff",
                    "Gratis Getränk für Läufer",
                    "sports",
                    {
                        "type": "Polygon",
                        "coordinates": [
                            [[9.990, 53.556], [10.012, 53.556], [10.012, 53.575], [9.990, 53.575], [9.990, 53.556]]
                        ],
                    },
                    WEEKEND,
                ),
            ],
        ),
        (
            "Sporthaus Alster Altona",
            "Ottenser Hauptstr. 10, 22765 Hamburg",
            9.9350,
            53.5520,
            ["sports"],
            [
                ("Fahrrad-Check 10 Euro", "Ohne Termin", "services", {"radius_m": 2500}, AFTERNOONS),
            ],
        ),
    ],
    "Markthalle Viktualien": [
        (
            "Markthalle Viktualienmarkt",
            "Viktualienmarkt 3, 80331 München",
            11.5763,
            48.1351,
            ["groceries"],
            [
                ("Obstkiste -15 %", "Regionale Ware", "groceries", {"radius_m": 1000}, ALWAYS),
                (
                    "Mittagstisch 7,90",
                    "Werktags",
                    "restaurant",
                    {"radius_m": 1200},
                    [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "11:30", "end": "14:30"}],
                ),
            ],
        ),
        (
            "Markthalle Schwabing",
            "Leopoldstr. 50, 80802 München",
            11.5860,
            48.1600,
            ["groceries"],
            [
                (
                    "Feierabend-Brot halber Preis",
                    "Ab 18 Uhr",
                    "bakery",
                    {"radius_m": 900},
                    [{"days": ["mon", "tue", "wed", "thu", "fri", "sat"], "start": "18:00", "end": "20:00"}],
                ),
            ],
        ),
    ],
}


def notice_purposes(k: int) -> list[dict[str, Any]]:
    """The demo notice's purposes; what it promises about statistics is what the insights do for this k."""
    return [
        {
            "id": "location_offers",
            "title": {"de": "Angebote in der Nähe", "en": "Offers nearby"},
            "description": {
                "de": "Wir gleichen Ihre grobe Position (eine Wabe von einigen Quadratkilometern) mit Angeboten ab. "
                "Ihre genaue Position wird weder gespeichert noch protokolliert.",
                "en": "We match your coarse position (a cell of a few square kilometres) to offers. Your exact "
                "position is never stored or logged.",
            },
        },
        {
            "id": "offer_analytics",
            "title": {"de": "Anonyme Statistik", "en": "Anonymous statistics"},
            "description": {
                "de": "Sie zählen in anonymen Statistiken für Geschäfte mit, höchstens einmal je Zahl und Stunde, "
                f"gleich wie oft Sie fragen (mindestens {k} Personen je Zahl; jede Zahl leicht verrauscht).",
                "en": "You count in anonymous statistics for stores, at most once per figure and hour however "
                f"often you ask (at least {k} people per figure; every figure slightly noised).",
            },
        },
    ]


NOTICE_TEXTS = {
    "de": "Datenschutzhinweis von geo-offers: Sie entscheiden je Zweck, ob wir Ihre grobe Position nutzen dürfen. "
    "Sie können Ihre Einwilligung jederzeit in der App widerrufen.",
    "en": "geo-offers privacy notice: you decide per purpose whether we may use your coarse position. You can "
    "withdraw your consent at any time in the app.",
}


@dataclass(frozen=True)
class DemoKeys:
    app: str
    merchant: str
    dpo: str
    admin: str


@dataclass(frozen=True)
class Seeded:
    loaded: bool
    stores: int
    deals: int
    notice_version: int


def _load(session: Session, settings: Settings, now: datetime) -> tuple[int, int]:
    stores = deals = 0
    for merchant_name, merchant_stores in DEMO.items():
        merchant_id = merchant_repo.create_merchant(session, merchant_name).id
        for name, address, lon, lat, categories, store_deals in merchant_stores:
            values = {"name": name, "address": address, "lon": lon, "lat": lat, "timezone": "Europe/Berlin",
                      "categories": categories}  # fmt: skip
            store_id = stores_repo.create_store(session, merchant_id, values, now).id
            stores += 1
            for title, description, category, area, windows in store_deals:
                deal = {
                    "store_id": store_id, "title": title, "description": description, "category": category,
                    "area": area, "windows": windows, "status": "active", "max_redemptions": None,
                    "valid_from": now - timedelta(days=1), "valid_until": now + timedelta(days=90),
                }  # fmt: skip
                deals_repo.create_deal(
                    session, merchant_id, deal, now, index_res=settings.index_res, cap_km2=settings.area_cap_km2
                )
                deals += 1
    return stores, deals


def seed(session: Session, settings: Settings, now: datetime) -> tuple[Seeded, DemoKeys]:
    """Load the demo data unless it is there already; always issue a fresh set of demo keys (shown once)."""
    version = notices.current_version(session)
    if version is None:
        version = notices.publish(
            session, notice_purposes(settings.k_anonymity), NOTICE_TEXTS, [], "demo seed", now
        ).version
    first_name = next(iter(DEMO))
    existing = session.scalars(select(Merchant).where(Merchant.name == first_name)).first()
    stores = deals = 0
    if existing is None:
        stores, deals = _load(session, settings, now)
        existing = session.scalars(select(Merchant).where(Merchant.name == first_name)).one()
    issued = DemoKeys(
        app=key_repo.create_key(session, "app", label="demo").key,
        merchant=key_repo.create_key(session, "merchant", existing.id, label="demo").key,
        dpo=key_repo.create_key(session, "dpo", label="demo").key,
        admin=key_repo.create_key(session, "admin", label="demo").key,
    )
    return Seeded(stores > 0, stores, deals, version), issued
