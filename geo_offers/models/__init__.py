"""ORM models of the spatial core, the insight counters and the tenancy tables (SQLAlchemy 2 typed mappings)."""

from geo_offers.models.base import Base
from geo_offers.models.insights import ActivityCount, DealDayCount, DealHourCount, PrivacyBudgetEntry
from geo_offers.models.places import Deal, DealCell, Store
from geo_offers.models.tenants import ApiKey, Merchant

__all__ = [
    "ActivityCount",
    "ApiKey",
    "Base",
    "Deal",
    "DealCell",
    "DealDayCount",
    "DealHourCount",
    "Merchant",
    "PrivacyBudgetEntry",
    "Store",
]
