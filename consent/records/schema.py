"""A JSON Schema (2020-12) for the consent records and receipts this service writes, derived from the mapping
of ISO/IEC TS 27560:2023 fields to DPV in the DPVCG guide (w3c/dpv ``guides/consent-27560.html``, tables of
sections 8.1 to 8.5 and 9.1).

Every field the guide marks "MUST be present" is required here, under the property the guide maps it to:

| 27560 field (guide section)          | property                                   |
|--------------------------------------|--------------------------------------------|
| schema version (8.1.1, 9.1.1)        | ``dct:conformsTo``                         |
| record / receipt id (8.1.2, 9.1.2)   | ``dct:identifier``                         |
| PII principal id (8.1.3)             | ``dpv:hasDataSubject``                     |
| privacy notice, language (8.2)       | ``dpv:hasNotice`` with ``dct:language``    |
| purpose, personal data (8.3.1-8.3.3) | ``dpv:hasProcess`` / ``dpv:hasPurpose`` ...|
| storage (8.3.4.2)                    | ``dpv:hasStorageCondition``                |
| controller (8.3.5)                   | ``dpv:hasDataController``                  |
| recipients (8.3.7)                   | ``dpv:hasRecipient``                       |
| withdrawal (8.3.8)                   | ``dpv:hasConsentControl``                  |
| jurisdiction (8.3.9), rights (8.3.10)| ``dpv:hasJurisdiction``, ``dpv:hasRight``  |
| event type, state, time, duration,   | ``dpv:hasConsentStatus`` entries with      |
| entity (8.5.1-8.5.5)                 | ``@type``, ``dpv:isIndicatedAtTime``, ...  |
| associated records, created (9.1)    | ``dpv:hasRecordOfActivity``, ``dct:created``|

Records are closed (``additionalProperties: false``), so a field the mapping does not know fails validation.
"""

from __future__ import annotations

from typing import Any, Final

from consent.records import vocabulary as v

_UUID = {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
_URN_UUID = {"type": "string", "pattern": "^urn:uuid:[0-9a-f-]{36}$"}
_TIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"}
_CURIE = {"type": "string", "pattern": "^(dpv|pd|loc|eu-gdpr|legal-eu):[A-Za-z0-9-]+$"}
_CURIES = {"type": "array", "items": _CURIE, "minItems": 1}
_TEXT = {"type": "string", "minLength": 1}
_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}


def _node(types: Any, required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["@type", *required],
        "properties": {"@type": types, **properties},
        "additionalProperties": False,
    }


_DURATION = _node(
    {"enum": ["dpv:UntilTimeDuration", "dpv:UntilEventDuration", "dpv:TemporalDuration"]},
    ["rdf:value"],
    {"rdf:value": _TEXT},
)
_STATE = _node(
    {
        "oneOf": [
            {"enum": [v.REFUSED, v.WITHDRAWN, v.EXPIRED]},
            {
                "type": "array",
                "prefixItems": [{"enum": [v.GIVEN, v.RENEWED]}, {"const": v.CONSENT_TYPE}],
                "minItems": 2,
                "maxItems": 2,
            },
        ]
    },
    ["dpv:isIndicatedAtTime", "dpv:isIndicatedBy", "dpv:hasIndicationMethod"],
    {
        "dpv:isIndicatedAtTime": _TIME,
        "dpv:isIndicatedBy": {"enum": ["dpv:DataSubject", "urn:geo-offers:controller"]},
        "dpv:hasIndicationMethod": _TEXT,
        "dpv:hasDuration": _DURATION,
        "go:globalPrivacyControl": {"type": "boolean"},
        "go:precisionRes": {"type": "integer", "minimum": 0, "maximum": 15},
        "dct:source": _node(
            {"const": "go:LedgerEvent"},
            ["go:ledgerSeq", "go:chainHash"],
            {"go:ledgerSeq": {"type": "integer", "minimum": 1}, "go:chainHash": _HEX64},
        ),
    },
)
_DESCRIBED = {
    "type": "object",
    "required": ["@type", "dct:description"],
    "properties": {
        "@type": _CURIE,
        "skos:broader": _CURIES,
        "dct:description": _TEXT,
        "dpv:hasDuration": _DURATION,
        "@id": _TEXT,
    },
    "additionalProperties": False,
}
_REF = {"type": "object", "required": ["@id"], "properties": {"@id": _TEXT}, "additionalProperties": False}
_PROCESS = _node(
    {"const": "dpv:Process"},
    [
        "dpv:hasPurpose",
        "dpv:hasLegalBasis",
        "dpv:hasPersonalData",
        "dpv:hasProcessing",
        "dpv:hasRecipient",
        "dpv:hasStorageCondition",
    ],
    {
        "dpv:hasPurpose": _node(
            {"const": "dpv:Purpose"},
            ["@id", "skos:broader", "dct:identifier"],
            {
                "@id": _TEXT,
                "skos:broader": _CURIES,
                "dct:identifier": _TEXT,
                "dct:title": {"type": "string"},
                "dct:description": {"type": "string"},
            },
        ),
        "dpv:hasLegalBasis": {**_CURIES, "contains": {"const": "eu-gdpr:A6-1-a"}},
        "dpv:hasPersonalData": {"type": "array", "items": _DESCRIBED, "minItems": 1},
        "dpv:hasProcessing": _CURIES,
        "dpv:hasRecipient": {"type": "array", "items": {"anyOf": [_REF, _DESCRIBED]}, "minItems": 1},
        "dpv:hasStorageCondition": {"type": "array", "items": _DESCRIBED, "minItems": 1},
    },
)
RECORD: Final[dict[str, Any]] = _node(
    {"const": "dpv:ConsentRecord"},
    [
        "@id",
        "dct:identifier",
        "dct:conformsTo",
        "dct:created",
        "dpv:hasDataSubject",
        "dpv:hasDataController",
        "dpv:hasJurisdiction",
        "dpv:hasApplicableLaw",
        "dpv:hasNotice",
        "dpv:hasProcess",
        "dpv:hasConsentControl",
        "dpv:hasRight",
        "dpv:hasConsentStatus",
        "go:currentStatus",
    ],
    {
        "@id": _URN_UUID,
        "dct:identifier": _UUID,
        "dct:conformsTo": {"const": v.RECORD_PROFILE},
        "dct:created": _TIME,
        "dpv:hasDataSubject": _node({"const": "dpv:User"}, ["@id"], {"@id": _URN_UUID}),
        "dpv:hasDataController": _node(
            {"const": "dpv:DataController"},
            ["@id", "dpv:hasName", "dpv:hasContact"],
            {"@id": {"const": "urn:geo-offers:controller"}, "dpv:hasName": _TEXT, "dpv:hasContact": _TEXT},
        ),
        "dpv:hasJurisdiction": {"type": "array", "items": {"pattern": "^loc:(EU|EEA|[A-Z]{2})$"}, "minItems": 1},
        "dpv:hasApplicableLaw": {"const": "legal-eu:law-GDPR"},
        "dpv:hasNotice": _node(
            {"const": "dpv:ConsentNotice"},
            ["@id", "schema:version", "dct:language", "dct:issued", "go:sha256"],
            {
                "@id": _TEXT,
                "schema:version": {"type": "integer", "minimum": 1},
                "dct:language": {"type": "string", "pattern": "^[a-z]{2,3}(-[A-Z]{2})?$"},
                "dct:issued": _TIME,
                "go:sha256": _HEX64,
            },
        ),
        "dpv:hasProcess": _PROCESS,
        "dpv:hasConsentControl": {
            "type": "object",
            "required": ["@type", "dct:description"],
            "properties": {
                "@type": {"type": "array", "items": _CURIE, "contains": {"const": "dpv:WithdrawConsent"}},
                "dct:description": _TEXT,
            },
            "additionalProperties": False,
        },
        "dpv:hasRight": {
            "type": "array",
            "minItems": 1,
            "contains": {"properties": {"@type": {"contains": {"const": "eu-gdpr:A7-3"}}}},
            "items": _node(
                {"type": "array", "prefixItems": [{"const": "dpv:DataSubjectRight"}, _CURIE], "minItems": 2},
                ["dct:title"],
                {"dct:title": _TEXT},
            ),
        },
        "dpv:hasConsentStatus": {"type": "array", "items": _STATE, "minItems": 1},
        "go:currentStatus": {"enum": list(v.STATES)},
        "dct:replaces": _URN_UUID,
        "dct:isReplacedBy": _URN_UUID,
    },
)
SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "geo-offers consent record or receipt (ISO/IEC TS 27560:2023 in W3C DPV terms)",
    "$defs": {
        "record": RECORD,
        "receipt": _node(
            {"const": "dpv:ConsentReceipt"},
            ["@context", "@id", "dct:identifier", "dct:conformsTo", "dct:created", "dpv:hasRecordOfActivity"],
            {
                "@context": {"type": "string", "pattern": f"{v.CONTEXT_PATH}$"},
                "@id": _URN_UUID,
                "dct:identifier": _UUID,
                "dct:conformsTo": {"const": v.RECEIPT_PROFILE},
                "dct:created": _TIME,
                "dct:publisher": {"const": "urn:geo-offers:controller"},
                "dpv:hasRecordOfActivity": {"type": "array", "items": {"$ref": "#/$defs/record"}},
            },
        ),
        "export": {
            "type": "object",
            "required": ["@context", "@graph"],
            "properties": {
                "@context": {"type": "string", "pattern": f"{v.CONTEXT_PATH}$"},
                "@graph": {"type": "array", "items": {"$ref": "#/$defs/record"}},
            },
            "additionalProperties": False,
        },
    },
    "oneOf": [{"$ref": "#/$defs/receipt"}, {"$ref": "#/$defs/export"}],
}
