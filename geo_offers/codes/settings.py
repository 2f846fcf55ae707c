"""Settings of one-time codes (environment prefix ``GEO_OFFERS_``): how fast apps may claim them."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CodeSettings(BaseSettings):
    """Claim rate limits: per app key (in each worker) and per deal (one bucket in the database for all)."""

    model_config = SettingsConfigDict(env_prefix="GEO_OFFERS_", extra="ignore")

    code_claims_per_key_per_s: float = Field(
        default=50.0, gt=0, description="Sustained code claims per second per app key, in each worker."
    )
    code_claims_per_key_burst: int = Field(default=200, ge=1)
    code_claims_per_deal_per_s: float = Field(
        default=5.0, gt=0, description="Sustained code claims per second per deal, over every instance."
    )
    code_claims_per_deal_burst: int = Field(default=100, ge=1)
