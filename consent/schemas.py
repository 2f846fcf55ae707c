"""API schemas of the consent service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, WithJsonSchema

from consent.pseudonyms import SUBJECT_ID_PATTERN, normalise_subject_id
from consent.settings import PRECISION_CEILING, PRECISION_FLOOR
from consent.strict import ANY_TEXT, Integer, StrictModel, Text

SubjectId = Annotated[
    str,
    StringConstraints(max_length=36),
    AfterValidator(normalise_subject_id),
    Field(
        description="The app's random installation id (a UUID). Never an e-mail, phone number or advertising id.",
        examples=["6f1c2d9e-8a43-4b7e-9a51-2f0c7d3e4b15"],
        json_schema_extra={"format": "uuid", "pattern": SUBJECT_ID_PATTERN},
    ),
]
PurposeId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{2,39}$")]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$"), Field(examples=["de-DE"])]
Source = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}$"),
    Field(description="Where in the app the person decided.", examples=["onboarding"]),
]
LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Z]{2})?$"
LocalisedText = Annotated[
    dict[
        Annotated[str, StringConstraints(pattern=LOCALE_PATTERN)],
        Annotated[str, StringConstraints(min_length=1, max_length=20_000), Text(filled=False, strip=False)],
    ],
    # pydantic states the key rule as patternProperties, which leaves other keys allowed; say it plainly.
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"pattern": LOCALE_PATTERN},
            "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 20_000, "pattern": ANY_TEXT},
            "description": "Text per locale (such as de or de-DE).",
        }
    ),
]
Precision = Annotated[int, Integer(ge=PRECISION_FLOOR, le=PRECISION_CEILING)]


class GrantBody(StrictModel):
    subject_id: SubjectId
    notice_version: Annotated[int, Integer(ge=1)]
    purposes: list[PurposeId] = Field(min_length=1, max_length=20)
    precision_res: Precision | None = Field(
        default=None, description="Finest H3 resolution the person allows (5 coarse to 8 fine); default 7."
    )
    source: Source
    locale: Locale


class DeclineBody(StrictModel):
    subject_id: SubjectId
    notice_version: Annotated[int, Integer(ge=1)]
    purposes: list[PurposeId] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="Refused purposes; all of the notice's if absent.",
    )
    source: Source
    locale: Locale


class WithdrawBody(StrictModel):
    subject_id: SubjectId
    purposes: list[PurposeId] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="Purposes to withdraw; every active one if absent.",
    )


class LedgerPosition(BaseModel):
    seq: int
    hash: str = Field(description="SHA-256 chain hash of the event, hex.")


class RecordLink(BaseModel):
    purpose: str
    record_id: str = Field(description="The `@id` of the consent record (ISO/IEC TS 27560, DPV) this decision opened.")


class ReceiptOut(BaseModel):
    consent_id: uuid.UUID = Field(description="Id of this decision (grant, refusal or withdrawal).")
    event: Literal["grant", "decline", "withdraw"]
    purposes: list[str] = Field(description="Purposes granted (grant) or withdrawn (withdraw).")
    declined_purposes: list[str]
    precision_res: int | None
    notice_version: int | None
    notice_sha256: str | None
    recorded_at: datetime
    granted_at: datetime | None
    expires_at: datetime | None
    ask_again_after: datetime | None
    gpc_seen: bool = Field(description="The request carried Sec-GPC: 1 (recorded on the event).")
    replayed: bool = Field(description="Nothing changed: this is the receipt of the earlier, identical decision.")
    ledger: LedgerPosition
    records: list[RecordLink] = Field(
        description="The consent records this decision opened, one per purpose (none for a withdrawal)."
    )
    record_url: str = Field(description="Where the person's records (JSON-LD, 27560 in DPV terms) are read.")


class PurposeStateOut(BaseModel):
    purpose: str
    status: Literal["active", "withdrawn", "declined", "expired", "none"]
    reason: str | None = None
    consent_id: uuid.UUID | None = None
    notice_version: int | None = None
    precision_res: int | None = None
    decided_at: datetime | None = None
    expires_at: datetime | None = None
    ended_at: datetime | None = None
    ask_again_after: datetime | None = None


class SubjectStateOut(BaseModel):
    current_notice_version: int
    purposes: list[PurposeStateOut]


class PurposeIn(StrictModel):
    id: PurposeId
    title: LocalisedText
    description: LocalisedText


class NoticeCreate(StrictModel):
    purposes: list[PurposeIn] = Field(min_length=2, max_length=20)
    texts: LocalisedText = Field(min_length=1, description="The full notice text per locale.")
    fresh_consent_for: list[PurposeId] = Field(
        default_factory=list,
        description="Purposes whose meaning changed: consents under older versions count as expired for them.",
    )


class PurposeOut(BaseModel):
    id: str
    title: str
    description: str


class NoticeOut(BaseModel):
    version: int
    published_at: datetime
    sha256: str = Field(description="SHA-256 of the canonical notice document, hex.")
    locale: str = Field(description="The locale of `text` and the purpose titles.")
    locales: list[str]
    text: str
    purposes: list[PurposeOut]
    fresh_consent_for: list[str]


class NoticeDocumentOut(BaseModel):
    version: int
    sha256: str
    canonical: str = Field(description="The exact document that was hashed.")
