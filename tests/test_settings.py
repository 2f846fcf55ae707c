"""Settings: environment prefix, cross-field checks, and the refusal of placeholder secrets in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from consent.settings import ConsentSettings
from geo_offers.settings import Settings


def test_production_refuses_the_dev_pepper() -> None:
    with pytest.raises(ValidationError, match="PEPPER"):
        Settings(environment="production")


def test_production_accepts_a_real_pepper() -> None:
    settings = Settings(environment="production", consent=ConsentSettings(pepper="x" * 40))
    assert not settings.consent.uses_dev_pepper


def test_environment_variables_use_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEO_OFFERS_K_ANONYMITY", "25")
    monkeypatch.setenv("GEO_OFFERS_CONSENT_LIFETIME_DAYS", "30")
    settings = Settings()
    assert settings.k_anonymity == 25
    assert settings.consent.consent_lifetime_days == 30


def test_precision_is_never_finer_than_res_8() -> None:
    with pytest.raises(ValidationError):
        ConsentSettings(max_precision_res=9)
    with pytest.raises(ValidationError):
        ConsentSettings(default_precision_res=8, max_precision_res=7)
