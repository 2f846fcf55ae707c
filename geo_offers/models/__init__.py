"""ORM models of the spatial core and the tenancy tables (SQLAlchemy 2 typed mappings)."""

from geo_offers.models.base import Base
from geo_offers.models.places import Deal, DealCell, Store
from geo_offers.models.tenants import ApiKey, Merchant

__all__ = ["ApiKey", "Base", "Deal", "DealCell", "Merchant", "Store"]
