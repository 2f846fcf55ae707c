"""Settings of the consent service (environment prefix ``GEO_OFFERS_``, or a ``.env`` file in the current folder)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A well-known value: fine on a laptop, refused in production (see geo_offers.settings).
DEV_PEPPER = "dev-only-pepper-change-me-0000000000000000"

#: The coarsest and finest H3 resolutions a person may choose; 8 is the hard privacy ceiling.
PRECISION_FLOOR = 5
PRECISION_CEILING = 8


class ConsentSettings(BaseSettings):
    """How long consent lasts, how coarse locations are, and the secret behind pseudonyms."""

    model_config = SettingsConfigDict(
        env_prefix="GEO_OFFERS_", extra="ignore", env_file=".env", env_file_encoding="utf-8"
    )

    pepper: SecretStr = Field(
        default=SecretStr(DEV_PEPPER),
        description="HMAC-SHA256 key that turns subject ids into pseudonyms. Keep it secret and stable.",
    )
    consent_lifetime_days: int = Field(default=365, ge=1, le=3650)
    ask_again_after_days: int = Field(default=183, ge=1, le=3650)
    default_precision_res: int = Field(default=7, ge=PRECISION_FLOOR, le=PRECISION_CEILING)
    max_precision_res: int = Field(default=8, ge=PRECISION_FLOOR, le=PRECISION_CEILING)

    @model_validator(mode="after")
    def _default_within_max(self) -> Self:
        if self.default_precision_res > self.max_precision_res:
            raise ValueError("default_precision_res must not be finer than max_precision_res")
        return self

    @property
    def uses_dev_pepper(self) -> bool:
        """True while the placeholder pepper is in use."""
        return self.pepper.get_secret_value() == DEV_PEPPER
