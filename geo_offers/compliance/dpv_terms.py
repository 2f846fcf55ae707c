"""What this service processes for each purpose, in W3C DPV terms: one description for the consent records and
the Art. 30 processing record alike.

It is generated from the running settings (precision, lifetimes, retention, k), like the processing record, so
the records cannot claim a different processing than the one configured. Every term is a DPV 2.3 term; the file
each comes from is listed in ``docs/audit.md``.
"""

from __future__ import annotations

from typing import Any

from consent.purposes import LOCATION_OFFERS, OFFER_ANALYTICS
from consent.records.jsonld import CONTROLLER_ID, ProcessTerms, Profile, controller, process_node
from geo_offers.settings import Settings

#: GDPR Art. 6(1)(a) consent, given by an explicit action per purpose.
LEGAL_BASIS = ("eu-gdpr:A6-1-a", "dpv:ExplicitlyExpressedConsent")
APPLICABLE_LAW = "legal-eu:law-GDPR"


def _data(broader: str, description: str, kind: str = "dpv:PersonalData") -> dict[str, Any]:
    return {"@type": kind, "skos:broader": [broader], "dct:description": description}


def _kept(description: str, duration: dict[str, Any]) -> dict[str, Any]:
    return {"@type": "dpv:StorageDuration", "dct:description": description, "dpv:hasDuration": duration}


def _until(event: str) -> dict[str, Any]:
    return {"@type": "dpv:UntilEventDuration", "rdf:value": event}


def _days(days: int) -> dict[str, Any]:
    return {"@type": "dpv:TemporalDuration", "rdf:value": f"P{days}D"}


def _common(settings: Settings) -> tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]:
    """The data every purpose involves: the pseudonym and the consent decision, and how long they are kept."""
    consent = settings.consent
    data = (
        _data(
            "pd:Identifier",
            "the app's random installation id, kept only as an HMAC-SHA256 pseudonym under a secret pepper",
            "dpv:PseudonymisedData",
        ),
    )
    storage = (
        _kept(
            "the pseudonym's link to the consent history: until the person asks for erasure (GDPR Art. 17)",
            _until("erasure request of the data subject"),
        ),
        _kept(
            "a consent: until withdrawn or its lifetime ends",
            _days(consent.consent_lifetime_days),
        ),
        _kept(
            "the consent ledger events that prove decisions: for the life of the service, no longer linkable to "
            "the person after erasure",
            _until("end of the service"),
        ),
    )
    return data, storage


def process_terms(settings: Settings) -> dict[str, ProcessTerms]:
    """The processing behind each purpose the service itself relies on."""
    consent = settings.consent
    data, storage = _common(settings)
    person = {"@type": "dpv:DataSubject", "dct:description": "the person, through the app: the deals near them"}
    merchants = {
        "@type": "dpv:Recipient",
        "dct:description": f"merchants (stores): aggregated counts of people, each figure resting on at least "
        f"k = {settings.k_anonymity} people (P = {settings.counting_bound} counting processes), with "
        f"differential-privacy noise (epsilon {settings.dp_epsilon} per person and hour of activity); never a person",
    }
    return {
        LOCATION_OFFERS: ProcessTerms(
            purpose_categories=("dpv:PersonalisedAdvertising",),
            personal_data=(
                *data,
                _data(
                    "pd:Location",
                    f"coarse location: an H3 cell of resolution {consent.default_precision_res} by default, never "
                    f"finer than {consent.max_precision_res}; a lat/lon is snapped to it at once",
                ),
            ),
            processing=("dpv:Collect", "dpv:Use"),
            recipients=({"@id": CONTROLLER_ID}, person),
            storage=(*storage, _kept("the coarse location of a request: not stored", _until("end of the request"))),
        ),
        OFFER_ANALYTICS: ProcessTerms(
            purpose_categories=("dpv:ServiceUsageAnalytics",),
            personal_data=(
                *data,
                _data("pd:Location", "coarse location reduced to an H3 cell of resolution 6 for counting"),
                _data("pd:Behavioural", "which deals were served, seen, clicked or redeemed (counted, not kept)"),
            ),
            processing=("dpv:Use", "dpv:Aggregate", "dpv:Anonymise"),
            recipients=({"@id": CONTROLLER_ID}, merchants),
            storage=(
                *storage,
                _kept("anonymous counters (no person in them)", _days(settings.retention_days)),
            ),
        ),
    }


def fallback_terms(settings: Settings) -> ProcessTerms:
    """A purpose of the notice the service itself does not act on: only the decision is processed."""
    data, storage = _common(settings)
    return ProcessTerms(
        purpose_categories=("dpv:Purpose",),
        personal_data=data,
        processing=("dpv:Store",),
        recipients=({"@id": CONTROLLER_ID},),
        storage=storage,
    )


RIGHTS = (
    {"@type": ["dpv:DataSubjectRight", "eu-gdpr:A7-3"], "dct:title": "Right to withdraw consent at any time"},
    {"@type": ["dpv:DataSubjectRight", "eu-gdpr:A15"], "dct:title": "Right of access"},
    {"@type": ["dpv:DataSubjectRight", "eu-gdpr:A17"], "dct:title": "Right to erasure"},
    {"@type": ["dpv:DataSubjectRight", "eu-gdpr:A20"], "dct:title": "Right to data portability"},
)

CONSENT_CONTROL = {
    "@type": ["dpv:ProvideConsent", "dpv:RefuseConsent", "dpv:WithdrawConsent"],
    "dct:description": "in the app, per purpose; withdrawal is one call (POST /v1/consents/withdraw) and takes "
    "effect on the next request",
}


def profile(settings: Settings, context_url: str) -> Profile:
    """The record profile of the running configuration."""
    return Profile(
        context_url=context_url,
        controller_name=settings.controller or "not configured (GEO_OFFERS_CONTROLLER)",
        controller_contact=settings.dpo_contact or "not configured (GEO_OFFERS_DPO_CONTACT)",
        jurisdictions=tuple(f"loc:{code}" for code in settings.jurisdictions),
        applicable_law=APPLICABLE_LAW,
        legal_basis=LEGAL_BASIS,
        processes=process_terms(settings),
        fallback=fallback_terms(settings),
        rights=RIGHTS,
        consent_control=CONSENT_CONTROL,
    )


def process_nodes(settings: Settings, notice_content: dict[str, Any]) -> list[dict[str, Any]]:
    """The Art. 30 record's processing in the consent records' DPV terms: one ``dpv:Process`` per purpose of the
    current notice, with the controller, jurisdiction and applicable law (JSON-LD nodes, context below)."""
    described = profile(settings, "")
    locale = sorted(notice_content.get("texts", {}) or [""])[0]
    nodes = []
    for entry in notice_content.get("purposes", ()):
        node = process_node(entry["id"], described, notice_content, locale)
        node["dpv:hasDataController"] = controller(described)
        node["dpv:hasJurisdiction"] = list(described.jurisdictions)
        node["dpv:hasApplicableLaw"] = described.applicable_law
        nodes.append(node)
    return nodes
