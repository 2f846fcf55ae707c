"""Consent records and receipts after ISO/IEC TS 27560:2023 in W3C DPV terms (issue 13, "the standard record").

Records are validated against the JSON Schema written from the guide's mapping, and expanded and compacted
again by a JSON-LD processor (pyld) without loss. pyld loads the context from the service itself through a
document loader that refuses every other URL, so nothing here can go to the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from pyld import jsonld

from consent.expiry import expire_due
from consent.records.schema import SCHEMA
from consent.records.vocabulary import CONTEXT_PATH, SCHEMA_PATH
from consent.settings import ConsentSettings
from tests.audit_env import Env, open_env
from tests.helpers import FakeClock, assert_problem, grant, new_subject

DAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
DPV = "https://w3id.org/dpv#"
CONTEXT_URL = "http://testserver" + CONTEXT_PATH


@pytest.fixture
def env(fresh_database_url: str) -> Iterator[Env]:
    settings = ConsentSettings(consent_lifetime_days=2)
    with open_env(fresh_database_url, FakeClock(DAY), consent=settings, controller="Geo Offers GmbH, Berlin") as e:
        yield e


def local_loader(env: Env) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """A pyld document loader that serves the service's own context and refuses every other URL."""

    def load(url: str, options: dict[str, Any]) -> dict[str, Any]:
        if url != CONTEXT_URL:
            raise jsonld.JsonLdError(
                f"refused to load {url}", "jsonld.LoadDocumentError", code="loading document failed"
            )
        response = env.client.get(CONTEXT_PATH)
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/ld+json")
        return {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": response.json(),
        }

    return load


def round_trip(env: Env, document: dict[str, Any]) -> list[Any]:
    """Expand ``document``, compact it again with its own context, and require the same document back."""
    options = {"documentLoader": local_loader(env)}
    expanded: list[Any] = jsonld.expand(document, options)
    compacted = jsonld.compact(expanded, document["@context"], {**options, "compactArrays": True})
    assert compacted == document, json.dumps(compacted, indent=1)[:3000]
    return expanded


def _record(env: Env, subject: str, **params: Any) -> dict[str, Any]:
    response = env.client.get(f"/v1/consents/{subject}/record", params=params, headers=env.app)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    document: dict[str, Any] = response.json()
    jsonschema.validate(document, SCHEMA)
    return document


def _by_purpose(receipt: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for record in receipt["dpv:hasRecordOfActivity"]:
        found.setdefault(record["dpv:hasProcess"]["dpv:hasPurpose"]["dct:identifier"], []).append(record)
    return found


def _states(record: dict[str, Any]) -> list[Any]:
    return [s["@type"] for s in record["dpv:hasConsentStatus"]]


def _ledger(env: Env) -> dict[int, str]:
    items = env.client.get("/v1/audit/consent-events", headers=env.dpo).json()["items"]
    return {item["seq"]: item["hash"] for item in items}


def test_a_persons_records_follow_27560_in_dpv_terms(env: Env) -> None:
    a = new_subject()
    granted = grant(env.client, env.app, a, env.version)  # seq 1: both purposes
    assert granted.status_code == 201
    receipt = granted.json()
    withdrawn = env.client.post(
        "/v1/consents/withdraw", json={"subject_id": a, "purposes": ["offer_analytics"]}, headers=env.app
    )
    assert withdrawn.status_code == 200  # seq 2
    env.clock.advance(timedelta(days=3))  # the location consent's 2-day lifetime has ended; no job has run

    document = _record(env, a)
    assert document["@context"] == CONTEXT_URL and document["@type"] == "dpv:ConsentReceipt"
    records = _by_purpose(document)
    location, analytics = records["location_offers"][0], records["offer_analytics"][0]
    assert _states(location) == [["dpv:ConsentGiven", "dpv:ExplicitlyExpressedConsent"], "dpv:ConsentExpired"]
    assert _states(analytics) == [["dpv:ConsentGiven", "dpv:ExplicitlyExpressedConsent"], "dpv:ConsentWithdrawn"]
    assert location["go:currentStatus"] == "dpv:ConsentExpired"
    assert analytics["go:currentStatus"] == "dpv:ConsentWithdrawn"

    given, lapsed = location["dpv:hasConsentStatus"]
    ledger = _ledger(env)
    assert given["dct:source"] == {"@type": "go:LedgerEvent", "go:ledgerSeq": 1, "go:chainHash": ledger[1]}
    assert given["dpv:isIndicatedBy"] == "dpv:DataSubject" and "onboarding" in given["dpv:hasIndicationMethod"]
    assert given["go:globalPrivacyControl"] is False and given["go:precisionRes"] == 7
    assert given["dpv:hasDuration"]["rdf:value"] == "2026-11-25T10:00:00.000000Z"
    assert lapsed["dpv:isIndicatedAtTime"] == "2026-11-25T10:00:00.000000Z" and "dct:source" not in lapsed
    assert lapsed["dpv:isIndicatedBy"] == "urn:geo-offers:controller"
    assert analytics["dpv:hasConsentStatus"][1]["dct:source"]["go:ledgerSeq"] == 2

    notice = location["dpv:hasNotice"]
    current = env.client.get("/v1/notices/current", headers=env.app).json()
    assert notice["schema:version"] == env.version and notice["go:sha256"] == current["sha256"]
    assert notice["dct:language"] == "de-DE" and notice["@type"] == "dpv:ConsentNotice"
    assert location["dpv:hasDataController"]["dpv:hasName"] == "Geo Offers GmbH, Berlin"
    assert location["dpv:hasJurisdiction"] == ["loc:EU"] and location["dpv:hasApplicableLaw"] == "legal-eu:law-GDPR"
    assert location["dpv:hasProcess"]["dpv:hasLegalBasis"] == ["eu-gdpr:A6-1-a", "dpv:ExplicitlyExpressedConsent"]
    assert location["dpv:hasDataSubject"]["@id"] == analytics["dpv:hasDataSubject"]["@id"]
    assert a not in json.dumps(document)  # the principal is pseudonymous: the installation id is not in it

    # The grant receipt links to its records, and the link answers exactly them.
    assert {link["record_id"] for link in receipt["records"]} == {location["@id"], analytics["@id"]}
    linked = env.client.get(receipt["record_url"], headers=env.app)
    assert {r["@id"] for r in linked.json()["dpv:hasRecordOfActivity"]} == {location["@id"], analytics["@id"]}

    # The expiry job's event becomes the proof of the expiry that had already happened.
    report = expire_due(env.db.sessions, env.clock())
    assert report.events == 1
    proven = _by_purpose(_record(env, a))["location_offers"][0]["dpv:hasConsentStatus"][1]
    assert proven["dpv:isIndicatedAtTime"] == "2026-11-25T10:00:00.000000Z"
    assert proven["dct:source"]["go:ledgerSeq"] == 3

    expanded = round_trip(env, _record(env, a))
    text = json.dumps(expanded)
    for term in ("ConsentRecord", "ConsentReceipt", "hasConsentStatus", "ConsentGiven", "ConsentWithdrawn"):
        assert f'"{DPV}{term}"' in text, term
    assert f'"{DPV}ConsentExpired"' in text and '"https://w3id.org/dpv/legal/eu/gdpr#A6-1-a"' in text


def test_gpc_refusals_renewals_and_refusals_are_recorded_as_such(env: Env) -> None:
    b = new_subject()
    gpc = grant(env.client, env.app, b, env.version, ["location_offers"], extra_headers={"Sec-GPC": "1"})
    assert gpc.status_code == 201
    env.clock.advance(timedelta(hours=1))
    renewal = grant(env.client, env.app, b, env.version, ["location_offers"], precision_res=6)
    assert renewal.status_code == 201
    body = {"subject_id": b, "notice_version": env.version, "source": "settings", "locale": "en"}
    assert env.client.post("/v1/consents/decline", json=body, headers=env.app).status_code == 201

    records = _by_purpose(_record(env, b))
    first, renewed, refused = records["location_offers"]
    assert _states(first) == [["dpv:ConsentGiven", "dpv:ExplicitlyExpressedConsent"]]
    assert first["dpv:hasConsentStatus"][0]["go:globalPrivacyControl"] is True
    assert first["dct:isReplacedBy"] == renewed["@id"] and renewed["dct:replaces"] == first["@id"]
    assert _states(renewed) == [["dpv:RenewedConsentGiven", "dpv:ExplicitlyExpressedConsent"], "dpv:ConsentWithdrawn"]
    assert renewed["dpv:hasConsentStatus"][0]["go:precisionRes"] == 6
    assert _states(refused) == ["dpv:ConsentRefused"] and refused["dpv:hasNotice"]["dct:language"] == "en"

    by_gpc, by_person = records["offer_analytics"]
    assert _states(by_gpc) == ["dpv:ConsentRefused"]
    method = by_gpc["dpv:hasConsentStatus"][0]
    assert "Global Privacy Control" in method["dpv:hasIndicationMethod"] and method["go:globalPrivacyControl"]
    assert method["dct:source"]["go:ledgerSeq"] == 1  # the refusal sits in the grant event
    assert (
        _states(by_person) == ["dpv:ConsentRefused"]
        and "refusal in the app" in (by_person["dpv:hasConsentStatus"][0]["dpv:hasIndicationMethod"])
    )
    round_trip(env, _record(env, b))


def test_the_officers_dpv_export_holds_the_filtered_records(env: Env) -> None:
    a, b = new_subject(), new_subject()
    grant(env.client, env.app, a, env.version)
    grant(env.client, env.app, b, env.version, ["location_offers"], extra_headers={"Sec-GPC": "1"})
    response = env.client.get("/v1/audit/consent-events/export", params={"format": "dpv"}, headers=env.dpo)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/ld+json")
    everything = response.json()
    jsonschema.validate(everything, SCHEMA)
    assert len(everything["@graph"]) == 4
    round_trip(env, everything)

    params = {"format": "dpv", "type": "decline", "purpose": "offer_analytics"}
    refusals = env.client.get("/v1/audit/consent-events/export", params=params, headers=env.dpo).json()
    jsonschema.validate(refusals, SCHEMA)
    assert [r["go:currentStatus"] for r in refusals["@graph"]] == ["dpv:ConsentRefused"]
    assert refusals["@graph"][0]["dpv:hasConsentStatus"][0]["go:globalPrivacyControl"] is True
    subject_only = {"format": "dpv", "subject": a}
    mine = env.client.get("/v1/audit/consent-events/export", params=subject_only, headers=env.dpo).json()
    assert {r["dpv:hasProcess"]["dpv:hasPurpose"]["dct:identifier"] for r in mine["@graph"]} == {
        "location_offers",
        "offer_analytics",
    }
    assert all(r["go:currentStatus"] == "dpv:ConsentGiven" for r in mine["@graph"])


def test_the_processing_record_uses_the_same_dpv_terms(env: Env) -> None:
    record = env.client.get("/v1/audit/processing-record", headers=env.dpo).json()
    processes = {p["dpv:hasPurpose"]["dct:identifier"]: p for p in record["processes"]}
    assert set(processes) == {"location_offers", "offer_analytics"}
    consent = _by_purpose(_record(env, _granted(env)))
    for purpose, process in processes.items():
        in_record = consent[purpose][0]["dpv:hasProcess"]
        for key in ("dpv:hasPersonalData", "dpv:hasProcessing", "dpv:hasRecipient", "dpv:hasLegalBasis"):
            assert process[key] == in_record[key], key
    assert record["dpv_context"] == CONTEXT_URL
    wrapped = {"@context": record["dpv_context"], "@graph": record["processes"]}
    assert round_trip(env, wrapped)


def _granted(env: Env) -> str:
    subject = new_subject()
    assert grant(env.client, env.app, subject, env.version).status_code == 201
    return subject


def test_nothing_held_means_no_records_and_the_context_and_schema_are_served(env: Env) -> None:
    subject = _granted(env)
    assert env.client.delete(f"/v1/subjects/{subject}", headers=env.app).status_code == 200
    assert _record(env, subject)["dpv:hasRecordOfActivity"] == []
    assert_problem(env.client.get(f"/v1/consents/{subject}/record", headers=env.dpo), 403, "forbidden")
    assert env.client.get(SCHEMA_PATH).json() == json.loads(json.dumps(SCHEMA))
    context = env.client.get(CONTEXT_PATH).json()["@context"]
    assert context["dpv"] == DPV and context["go"].startswith("urn:")


def test_the_loader_refuses_any_other_context(env: Env) -> None:
    foreign = {"@context": "https://example.org/context.jsonld", "@id": "urn:x", "https://example.org/p": "v"}
    with pytest.raises(jsonld.JsonLdError):
        jsonld.expand(foreign, {"documentLoader": local_loader(env)})
