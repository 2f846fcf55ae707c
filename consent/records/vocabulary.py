"""The JSON-LD vocabulary of consent records: namespaces, the served ``@context``, and the DPV terms used.

Records follow the DPVCG guide "Consent Records and Receipts as per ISO/IEC TS 27560:2023 using DPV" (w3c/dpv,
``guides/consent-27560.html``) with DPV 2.3 terms; each term's source file is listed in ``docs/audit.md``. What DPV
has no term for (the ledger position that proves a status, a notice's SHA-256, the precision ceiling, whether a
request carried Global Privacy Control) is said with this service's own terms under ``go:`` (a URN namespace, so
nothing ever tries to fetch it), never with a made-up DPV term.

The context is served by the service itself (``CONTEXT_PATH``): records name it by URL, and no processor needs
anything from a third party to read them.
"""

from __future__ import annotations

from typing import Any, Final

CONTEXT_PATH: Final = "/contexts/consent-record/v1.jsonld"
SCHEMA_PATH: Final = "/contexts/consent-record/v1.schema.json"

DPV: Final = "https://w3id.org/dpv#"
GO: Final = "urn:geo-offers:vocab:"

#: dct:conformsTo values: the profiles of schema/dpv-27560.ttl in w3c/dpv.
RECORD_PROFILE: Final = "dpv-27560:record"
RECEIPT_PROFILE: Final = "dpv-27560:receipt"

#: The DPV consent states a record can pass through (dpv/modules/consent_status.ttl).
GIVEN: Final = "dpv:ConsentGiven"
RENEWED: Final = "dpv:RenewedConsentGiven"
REFUSED: Final = "dpv:ConsentRefused"
WITHDRAWN: Final = "dpv:ConsentWithdrawn"
EXPIRED: Final = "dpv:ConsentExpired"
STATES: Final = (GIVEN, RENEWED, REFUSED, WITHDRAWN, EXPIRED)

#: How every consent here is given: an explicit action in the app, per purpose (dpv/modules/consent_types.ttl).
CONSENT_TYPE: Final = "dpv:ExplicitlyExpressedConsent"

_ID: Final = {"@type": "@id"}
_IDS: Final = {"@type": "@id", "@container": "@set"}
_SET: Final = {"@container": "@set"}
_TIME: Final = {"@type": "xsd:dateTime"}


def _term(curie: str, definition: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return curie, {"@id": curie, **definition}


#: The ``@context`` document. Terms are the compact IRIs the DPV guide writes (``dpv:hasPurpose``), so a record
#: reads like the guide's examples; the definitions only add types (IRIs, times) and keep lists as lists.
CONTEXT: Final[dict[str, Any]] = {
    "@context": {
        "@version": 1.1,
        "dpv": DPV,
        "pd": "https://w3id.org/dpv/pd#",
        "loc": "https://w3id.org/dpv/loc#",
        "eu-gdpr": "https://w3id.org/dpv/legal/eu/gdpr#",
        "legal-eu": "https://w3id.org/dpv/legal/eu#",
        "dpv-27560": "https://w3id.org/dpv/schema/dpv-27560#",
        "dct": "http://purl.org/dc/terms/",
        "skos": "http://www.w3.org/2004/02/skos/core#",
        "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "schema": "https://schema.org/",
        "go": GO,
        **dict(
            [
                _term("dct:conformsTo", _ID),
                _term("dct:created", _TIME),
                _term("dct:issued", _TIME),
                _term("dct:replaces", _ID),
                _term("dct:isReplacedBy", _ID),
                _term("dct:publisher", _ID),
                _term("skos:broader", _IDS),
                _term("dpv:hasJurisdiction", _IDS),
                _term("dpv:hasApplicableLaw", _ID),
                _term("dpv:hasLegalBasis", _IDS),
                _term("dpv:hasProcessing", _IDS),
                _term("dpv:hasPersonalData", _SET),
                _term("dpv:hasRecipient", _SET),
                _term("dpv:hasStorageCondition", _SET),
                _term("dpv:hasRight", _SET),
                _term("dpv:hasConsentStatus", _SET),
                _term("dpv:hasRecordOfActivity", _SET),
                _term("dpv:isIndicatedBy", _ID),
                _term("dpv:isIndicatedAtTime", _TIME),
                _term("go:currentStatus", _ID),
            ]
        ),
    }
}
