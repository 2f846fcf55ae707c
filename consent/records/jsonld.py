"""Consent records and receipts as JSON-LD, structured after ISO/IEC TS 27560:2023 in DPV terms.

The layout is the DPVCG guide's (w3c/dpv ``guides/consent-27560.html``, sections 8 and 9): a ``dpv:ConsentRecord``
with its identifier and profile, the data subject (pseudonymous), the controller, jurisdiction and applicable law,
the notice, one ``dpv:Process`` (purpose, legal basis, personal data, processing, recipients, storage), the consent
controls and rights, and its states in order, each proven by a ledger event. A receipt (``dpv:ConsentReceipt``)
wraps records for the person. What the service processes for each purpose (``ProcessTerms``) is supplied by the
application, the same description its Art. 30 record is built from.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consent.canonical import iso
from consent.records import vocabulary as v
from consent.records.lifecycle import NoticeInfo, Record, State

CONTROLLER_ID = "urn:geo-offers:controller"


@dataclass(frozen=True, slots=True)
class ProcessTerms:
    """The processing behind one purpose, in DPV terms (JSON-LD values, compact IRIs)."""

    purpose_categories: tuple[str, ...]
    personal_data: tuple[dict[str, Any], ...]
    processing: tuple[str, ...]
    recipients: tuple[dict[str, Any], ...]
    storage: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Profile:
    """What every record states about the controller and the processing (from the running configuration)."""

    context_url: str
    controller_name: str
    controller_contact: str
    jurisdictions: tuple[str, ...]
    applicable_law: str
    legal_basis: tuple[str, ...]
    processes: Mapping[str, ProcessTerms]
    fallback: ProcessTerms
    rights: tuple[dict[str, Any], ...] = field(default=())
    consent_control: dict[str, Any] = field(default_factory=dict)


def controller(profile: Profile) -> dict[str, Any]:
    """The controller entity (ISO 27560 party: name and contact)."""
    return {
        "@id": CONTROLLER_ID,
        "@type": "dpv:DataController",
        "dpv:hasName": profile.controller_name,
        "dpv:hasContact": profile.controller_contact,
    }


def _locale(notice: NoticeInfo, locale: str) -> str:
    """The notice locale the person read: the one decided in, its language, or the notice's first (as shown)."""
    texts = sorted(notice.content.get("texts", {}))
    chosen = locale if locale in texts else locale.split("-")[0]
    return chosen if chosen in texts or not texts else texts[0]


def process_node(
    purpose: str, profile: Profile, notice_content: Mapping[str, Any] | None = None, locale: str = ""
) -> dict[str, Any]:
    """The ``dpv:Process`` behind one purpose (titles from the notice in ``locale`` when given)."""
    terms = profile.processes.get(purpose, profile.fallback)
    node: dict[str, Any] = {
        "@id": f"urn:geo-offers:purpose:{purpose}",
        "@type": "dpv:Purpose",
        "skos:broader": list(terms.purpose_categories),
        "dct:identifier": purpose,
    }
    for entry in (notice_content or {}).get("purposes", ()):
        if entry.get("id") == purpose:
            node["dct:title"] = entry["title"].get(locale, "")
            node["dct:description"] = entry["description"].get(locale, "")
    return {
        "@type": "dpv:Process",
        "dpv:hasPurpose": node,
        "dpv:hasLegalBasis": list(profile.legal_basis),
        "dpv:hasPersonalData": list(terms.personal_data),
        "dpv:hasProcessing": list(terms.processing),
        "dpv:hasRecipient": list(terms.recipients),
        "dpv:hasStorageCondition": list(terms.storage),
    }


def _notice(record: Record, notice: NoticeInfo | None) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@id": f"urn:geo-offers:notice:{record.notice_version}#{record.locale}",
        "@type": "dpv:ConsentNotice",
        "schema:version": record.notice_version,
        "dct:language": record.locale,
    }
    if notice is not None:
        node["dct:issued"] = iso(notice.published_at)
        node["go:sha256"] = notice.sha256
    return node


def _state(state: State) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@type": [state.state, v.CONSENT_TYPE] if state.state in (v.GIVEN, v.RENEWED) else state.state,
        "dpv:isIndicatedAtTime": iso(state.at),
        "dpv:isIndicatedBy": "dpv:DataSubject" if state.by_person else CONTROLLER_ID,
        "dpv:hasIndicationMethod": state.method,
    }
    if state.gpc is not None:
        node["go:globalPrivacyControl"] = state.gpc
    if state.until is not None:
        node["dpv:hasDuration"] = {"@type": "dpv:UntilTimeDuration", "rdf:value": iso(state.until)}
    if state.precision_res is not None:
        node["go:precisionRes"] = state.precision_res
    if state.seq is not None:
        node["dct:source"] = {"@type": "go:LedgerEvent", "go:ledgerSeq": state.seq, "go:chainHash": state.hash}
    return node


def record_document(record: Record, profile: Profile, notices: Mapping[int, NoticeInfo]) -> dict[str, Any]:
    """One consent record (without ``@context``: it goes on the document that holds the records)."""
    notice = notices.get(record.notice_version)
    content = notice.content if notice is not None else None
    locale = _locale(notice, record.locale) if notice is not None else record.locale
    document: dict[str, Any] = {
        "@id": f"urn:uuid:{record.record_id}",
        "@type": "dpv:ConsentRecord",
        "dct:identifier": str(record.record_id),
        "dct:conformsTo": v.RECORD_PROFILE,
        "dct:created": iso(record.created),
        "dpv:hasDataSubject": {"@id": f"urn:uuid:{record.tag}", "@type": "dpv:User"},
        "dpv:hasDataController": controller(profile),
        "dpv:hasJurisdiction": list(profile.jurisdictions),
        "dpv:hasApplicableLaw": profile.applicable_law,
        "dpv:hasNotice": _notice(record, notice),
        "dpv:hasProcess": process_node(record.purpose, profile, content, locale),
        "dpv:hasConsentControl": profile.consent_control,
        "dpv:hasRight": list(profile.rights),
        "dpv:hasConsentStatus": [_state(state) for state in record.states],
        "go:currentStatus": record.current,
    }
    if record.replaces is not None:
        document["dct:replaces"] = f"urn:uuid:{record.replaces}"
    if record.replaced_by is not None:
        document["dct:isReplacedBy"] = f"urn:uuid:{record.replaced_by}"
    return document


def receipt_document(
    records: Sequence[Record], profile: Profile, notices: Mapping[int, NoticeInfo], now: datetime
) -> dict[str, Any]:
    """A consent receipt for the person: a copy of their records (guide section 9), with the served context."""
    receipt_id = uuid.uuid4()
    return {
        "@context": profile.context_url,
        "@id": f"urn:uuid:{receipt_id}",
        "@type": "dpv:ConsentReceipt",
        "dct:identifier": str(receipt_id),
        "dct:conformsTo": v.RECEIPT_PROFILE,
        "dct:created": iso(now),
        "dct:publisher": CONTROLLER_ID,
        "dpv:hasRecordOfActivity": [record_document(r, profile, notices) for r in records],
    }
