"""Bodies of the code routes: adding codes to a pool, the pool's state, a claimed code, a redemption."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, StringConstraints, model_validator

from consent.strict import Integer, StrictModel
from geo_offers.codes import format as codes

UploadedCode = Annotated[str, StringConstraints(min_length=1, max_length=80)]
MAX_UPLOAD = 5000
MAX_GENERATE = 100_000


class GenerateSpec(StrictModel):
    """Codes made by the service: ``count`` random codes of ``length`` characters over ``alphabet``."""

    count: Annotated[int, Integer(ge=1, le=MAX_GENERATE)]
    alphabet: str | None = Field(
        default=None,
        max_length=36,
        description=f"Upper-case letters and digits; default {codes.DEFAULT_ALPHABET} (no 0, O, 1, I, L), or the "
        "pool's alphabet when it has one. 0123456789 suits numeric till keypads.",
    )
    length: Annotated[int, Integer(ge=codes.MIN_LENGTH, le=codes.MAX_LENGTH)] | None = Field(
        default=None,
        description=f"Characters per code, the check character included; default {codes.DEFAULT_LENGTH}.",
    )

    @model_validator(mode="after")
    def _guessable(self) -> Self:
        if self.alphabet is not None or self.length is not None:
            alphabet = codes.canonical_alphabet(self.alphabet or codes.DEFAULT_ALPHABET)
            problem = codes.alphabet_problem(alphabet, self.length or codes.DEFAULT_LENGTH)
            if problem is not None:
                raise ValueError(problem)
        return self


class CodesAdd(StrictModel):
    """Exactly one of ``codes`` (the store's own codes) and ``generate`` (codes made by the service)."""

    codes: list[UploadedCode] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_UPLOAD,
        description="Letters, digits, spaces and hyphens, 4 to 64 letters and digits each; compared without case, "
        "spaces and hyphens, so each must differ from every other code of yours in that form.",
    )
    generate: GenerateSpec | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.codes is None) == (self.generate is None):
            raise ValueError("send exactly one of codes and generate")
        if self.codes is not None:
            seen: dict[str, int] = {}
            for position, code in enumerate(self.codes):
                problem = codes.uploaded_problem(code)
                if problem is not None:
                    raise ValueError(f"codes[{position}]: {problem}")
                first = seen.setdefault(codes.normalize(code), position)
                if first != position:
                    raise ValueError(f"codes[{position}] repeats codes[{first}] (compared without case and hyphens)")
        return self


class CodePoolOut(BaseModel):
    deal_id: int
    source: Literal["upload", "generate"]
    alphabet: str | None = Field(description="The alphabet of generated codes (null for uploaded ones).")
    length: int | None = Field(description="Characters per generated code, the check character included.")
    random_bits: float | None = Field(description="Entropy of one generated code.")
    added: int | None = Field(default=None, description="Codes added by this request (null when only read).")
    available: int = Field(description="Not yet handed out.")
    claimed: int = Field(description="Handed to an app, not yet marked at a till.")
    used: int = Field(description="Marked at a till.")
    void: int = Field(description="Never handed out and withdrawn (by the store, or when the deal's validity ended).")


class ClaimRequest(StrictModel):
    """No fields: a claim names no person. Send no body or ``{}``."""


class ClaimedCode(BaseModel):
    deal_id: int
    code: str = Field(description="The code to show (and, if needed, to type at the till).")
    payload: str = Field(
        description="Render this string as a QR code; the till scans it and sends it as it is.",
        examples=["GEO-OFFERS:CODE:42:7KQ2MX4P9C"],
    )
    expires_at: datetime = Field(description="The code is good until the deal's validity ends.")


class RedemptionRequest(StrictModel):
    code: str = Field(
        min_length=1,
        max_length=120,
        description="The code as typed (case, spaces and hyphens do not matter) or the scanned QR payload.",
    )


class Redemption(BaseModel):
    deal_id: int
    store_id: int
    title: str
    used_at: datetime = Field(description="The hour the code was marked (codes keep no exact times).")
