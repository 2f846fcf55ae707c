"""Bodies of the operator routes: merchants and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from consent.strict import JsonInt, StrictModel

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class MerchantCreate(StrictModel):
    name: Name


class MerchantPublic(BaseModel):
    id: int
    name: str
    created_at: datetime


class MerchantList(BaseModel):
    items: list[MerchantPublic]
    next_after: int | None = Field(description="Pass as `after` to get the next page; null on the last page.")


class KeyCreate(StrictModel):
    role: Literal["app", "merchant", "dpo", "admin"]
    merchant_id: JsonInt | None = Field(default=None, ge=1, description="Required for, and only for, merchant keys.")
    label: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""

    @model_validator(mode="after")
    def _merchant_binding(self) -> KeyCreate:
        if (self.role == "merchant") != (self.merchant_id is not None):
            raise ValueError("a merchant key needs merchant_id, and only a merchant key may have one")
        return self


class KeyPublic(BaseModel):
    id: str
    role: str
    merchant_id: int | None
    label: str
    created_at: datetime
    revoked_at: datetime | None


class KeyIssued(KeyPublic):
    key: str = Field(description="The secret key. Shown only in this answer; store it now.")


class KeyList(BaseModel):
    items: list[KeyPublic]
