"""Bodies of the operator routes: merchants and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.config import JsonDict

from consent.strict import Integer, StrictModel, Text

Name = Annotated[str, StringConstraints(max_length=200), Text()]
#: Stated with if/then/else rather than oneOf, which client generators read as a choice between two models.
_MERCHANT_BINDING: JsonDict = {
    "if": {"properties": {"role": {"const": "merchant"}}},
    "then": {"required": ["merchant_id"], "properties": {"merchant_id": {"type": "integer"}}},
    "else": {"properties": {"merchant_id": {"type": "null"}}},
}


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
    """A merchant key names its merchant; no other key may."""

    model_config = ConfigDict(json_schema_extra=_MERCHANT_BINDING)

    role: Literal["app", "merchant", "dpo", "admin"]
    merchant_id: Annotated[int, Integer(ge=1)] | None = Field(
        default=None, description="Required for, and only for, merchant keys."
    )
    label: Annotated[str, StringConstraints(max_length=200), Text(filled=False)] = ""

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
