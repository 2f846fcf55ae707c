"""Contract fuzzing: schemathesis against the service's own OpenAPI document, for every route and every role.

This is ``schemathesis run --checks all`` in the test suite: the same rules (``schemathesis.toml`` at the root),
every check schemathesis has, and its phases (explicit examples, the coverage phase's boundary values and
unexpected methods, random fuzzing with data that fits the schema and data that does not, and stateful
sequences), once for each caller: the app, merchant, dpo and admin keys, and no key at all. Requests go
through the real app and real PostgreSQL in process. Besides schemathesis' checks (no 5xx, documented statuses,
content types and headers, answers that match their schemas, valid data accepted, invalid data refused,
405 with a full ``Allow``, authentication not ignored, ...) every 4xx must be problem+json with the RFC 9457
members. ``GEO_OFFERS_CONTRACT_EXAMPLES`` raises the fuzzing depth for a longer run.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi

from geo_offers.app import create_app
from geo_offers.kit.database import Database
from geo_offers.settings import Settings
from tests.helpers import Keys, deal_body, make_settings, notice_body, store_body

ROLES = ("app", "merchant", "dpo", "admin", None)
EXAMPLES = int(os.environ.get("GEO_OFFERS_CONTRACT_EXAMPLES", "6"))
STATEFUL_SCENARIOS = int(os.environ.get("GEO_OFFERS_CONTRACT_SCENARIOS", "4"))
ROOT = Path(__file__).resolve().parent.parent


def _config() -> SchemathesisConfig:
    """The repository's schemathesis.toml, with a fixed seed (a failure reproduces) and this run's depth."""
    data: dict[str, Any] = tomllib.loads((ROOT / "schemathesis.toml").read_text())
    data["seed"] = int(os.environ.get("GEO_OFFERS_CONTRACT_SEED", "1"))
    data.setdefault("generation", {})["max-examples"] = EXAMPLES
    return SchemathesisConfig.from_dict(data, base_dir=str(ROOT))


# The document is built without a database: nothing connects until the lifespan runs.
SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(environment="test"), log=False).openapi(), config=_config())


@pytest.fixture(scope="module")
def contract_app(module_database_url: str) -> Iterator[FastAPI]:
    # A high rate limit: the fuzzer must see the route's own answers, not 429s.
    app = create_app(make_settings(module_database_url, rate_limit_per_s=1e6, rate_limit_burst=10**6), log=False)
    yield app
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def role_headers(module_database_url: str, contract_app: FastAPI) -> Iterator[dict[str | None, dict[str, str]]]:
    from fastapi.testclient import TestClient

    db = Database(make_settings(module_database_url))
    keys = Keys(db)
    merchant = keys.merchant("Contract GmbH")
    headers: dict[str | None, dict[str, str]] = {None: {}}
    for role in ROLES:
        if role is not None:
            headers[role] = keys.headers(role, merchant if role == "merchant" else None)
    # Some objects, so that reads of lists and of the current notice answer 200 and their schemas are checked.
    with TestClient(create_app(make_settings(module_database_url), log=False)) as client:
        if client.get("/v1/notices/current", headers=headers["app"]).status_code != 200:
            assert client.post("/v1/notices", json=notice_body(), headers=headers["admin"]).status_code == 201
        store = client.post("/v1/stores", json=store_body(), headers=headers["merchant"])
        assert store.status_code == 201, store.text
        deal = client.post("/v1/deals", json=deal_body(store.json()["id"]), headers=headers["merchant"])
        assert deal.status_code == 201, deal.text
    yield headers
    db.dispose()


def _as_caller(case: schemathesis.Case, auth: dict[str, str]) -> None:
    """The case sent with the role's key (or none) instead of the key schemathesis made up."""
    for name in [n for n in case.headers if n.lower() == "authorization"]:
        del case.headers[name]
    case.headers.update(auth)


def assert_problem_shape(case: schemathesis.Case, response: schemathesis.Response) -> None:
    """Every 4xx is problem+json with type, title, status and detail."""
    status = response.status_code
    if 400 <= status < 500:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/problem+json"), (case.as_curl_command(), status, content_type)
        body = response.json()
        assert isinstance(body, dict), body
        assert body.get("status") == status, body
        for member in ("type", "title", "detail"):
            assert isinstance(body.get(member), str) and body[member], (member, body)


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "nokey")
@SCHEMA.parametrize()
def test_operation_honours_the_contract(
    case: schemathesis.Case,
    role: str | None,
    contract_app: FastAPI,
    role_headers: dict[str | None, dict[str, str]],
) -> None:
    # Every request schemathesis sends, its checks' own included, goes to the app in process. (The test's
    # schema is a copy made at collection, so the app is set on the one the case belongs to.)
    case.operation.schema.app = case.operation.app = contract_app
    _as_caller(case, role_headers[role])
    response = case.call()
    case.validate_response(response, headers=case.headers)
    assert_problem_shape(case, response)


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "nokey")
def test_sequences_of_calls_honour_the_contract(
    role: str | None, contract_app: FastAPI, role_headers: dict[str | None, dict[str, str]]
) -> None:
    """Stateful: schemathesis chains operations (create, then read, change and delete what was created)."""
    auth = role_headers[role]
    SCHEMA.app = contract_app

    class Workflow(SCHEMA.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case) -> None:
            _as_caller(case, auth)

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            assert_problem_shape(case, response)

    Workflow.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )


# --- faults the fuzzer found, pinned ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "role", "body"),
    [
        ("/v1/admin/merchants", "admin", {"name": "Caf\x00e"}),
        ("/v1/stores", "merchant", store_body(name="Kaffee\x00bar")),
        ("/v1/stores", "merchant", store_body(categories=["cafe\x00"])),
        ("/v1/notices", "admin", {**notice_body(), "texts": {"de": "Hinweis\x00", "en": "Notice"}}),
        ("/v1/admin/keys", "admin", {"role": "app", "label": "\x00"}),
    ],
)
def test_text_with_a_nul_character_is_refused_not_a_server_error(
    path: str, role: str, body: dict[str, Any], role_headers: dict[str | None, dict[str, str]], contract_app: FastAPI
) -> None:
    from fastapi.testclient import TestClient

    from tests.helpers import assert_problem

    with TestClient(contract_app) as client:
        assert_problem(client.post(path, json=body, headers=role_headers[role]), 422, "invalid-input")


@pytest.mark.parametrize(
    ("path", "role", "body"),
    [
        ("/v1/stores", "merchant", store_body(location={"type": "Point", "coordinates": [False, 0]})),
        ("/v1/stores", "merchant", store_body(location={"type": "Point", "coordinates": ["13.4", "52.5"]})),
        ("/v1/admin/keys", "admin", {"role": "merchant", "merchant_id": True}),
        (
            "/v1/offers/match",
            "app",
            {"subject_id": "6f1c2d9e-8a43-4b7e-9a51-2f0c7d3e4b15", "location": {"lat": True, "lon": 13.4}},
        ),
        (
            "/v1/consents",
            "app",
            {
                "subject_id": "6f1c2d9e-8a43-4b7e-9a51-2f0c7d3e4b15",
                "notice_version": True,
                "purposes": ["location_offers"],
                "source": "onboarding",
                "locale": "de-DE",
            },
        ),
    ],
)
def test_numbers_must_be_json_numbers(
    path: str, role: str, body: dict[str, Any], role_headers: dict[str | None, dict[str, str]], contract_app: FastAPI
) -> None:
    from fastapi.testclient import TestClient

    from tests.helpers import assert_problem

    with TestClient(contract_app) as client:
        assert_problem(client.post(path, json=body, headers=role_headers[role]), 422, "invalid-input")


def test_a_malformed_key_id_is_refused_before_the_database(
    role_headers: dict[str | None, dict[str, str]], contract_app: FastAPI
) -> None:
    from fastapi.testclient import TestClient

    from tests.helpers import assert_problem

    with TestClient(contract_app) as client:
        assert_problem(
            client.post("/v1/admin/keys/ab%00cd/revoke", headers=role_headers["admin"]), 422, "invalid-input"
        )
        assert_problem(
            client.post("/v1/admin/keys/0123456789ab/revoke", headers=role_headers["admin"]), 404, "not-found"
        )


def test_the_document_describes_errors_as_problem_json() -> None:
    document = create_app(Settings(environment="test"), log=False).openapi()
    assert "HTTPValidationError" not in str(document)
    for path_item in document["paths"].values():
        for operation in path_item.values():
            for status in ("4XX", "5XX"):
                assert "application/problem+json" in operation["responses"][status]["content"]


def test_a_number_with_no_fraction_is_an_integer(
    role_headers: dict[str | None, dict[str, str]], contract_app: FastAPI
) -> None:
    """JSON Schema counts 10.0 as an integer; so does the server (but not 10.5, true or "10")."""
    from fastapi.testclient import TestClient

    from tests.helpers import assert_problem, new_subject

    app = role_headers["app"]
    with TestClient(contract_app) as client:
        current = client.get("/v1/notices/current", headers=app)
        assert current.status_code == 200, current.text
        version = current.json()["version"]
        body = {"subject_id": new_subject(), "purposes": ["location_offers"], "source": "app", "locale": "de"}
        assert client.post("/v1/consents", json={**body, "notice_version": float(version)}, headers=app).is_success
        for limit in (10.5, True, "10"):
            match = {"subject_id": body["subject_id"], "cell": "871f1d489ffffff", "limit": limit}
            assert_problem(client.post("/v1/offers/match", json=match, headers=app), 422, "invalid-input")
        match["limit"] = 10.0
        assert client.post("/v1/offers/match", json=match, headers=app).status_code == 200


def test_the_document_uses_only_json_schema_keywords_for_bounds() -> None:
    """Bounds of nested integers were once written as pydantic's `ge`/`le`, which no client or fuzzer reads."""
    import json
    import re

    text = json.dumps(create_app(Settings(environment="test"), log=False).openapi())
    assert not re.findall(r'"(ge|le|gt|lt)": ', text)
    precision = SCHEMA.raw_schema["components"]["schemas"]["GrantBody"]["properties"]["precision_res"]
    assert precision["anyOf"][0]["minimum"] == 5 and precision["anyOf"][0]["maximum"] == 8


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/stores/{store}", {"name": None}),
        ("/v1/deals/{deal}", {"title": None}),
        ("/v1/deals/{deal}", {"area": None}),
    ],
)
def test_a_patch_field_may_be_left_out_but_not_null(
    path: str, body: dict[str, Any], role_headers: dict[str | None, dict[str, str]], contract_app: FastAPI
) -> None:
    from fastapi.testclient import TestClient

    from tests.helpers import assert_problem

    merchant = role_headers["merchant"]
    with TestClient(contract_app) as client:
        store = client.post("/v1/stores", json=store_body(), headers=merchant).json()
        deal = client.post("/v1/deals", json=deal_body(store["id"]), headers=merchant).json()
        url = path.format(store=store["id"], deal=deal["id"])
        assert_problem(client.patch(url, json=body, headers=merchant), 422, "invalid-input")
        cleared = client.patch(f"/v1/deals/{deal['id']}", json={"max_redemptions": None}, headers=merchant)
        assert cleared.status_code == 200, cleared.text


def test_a_store_its_radius_deals_cannot_follow_is_a_conflict(
    role_headers: dict[str | None, dict[str, str]], contract_app: FastAPI
) -> None:
    """The new location is valid on its own (the schema allows it); the store's radius deal cannot move there."""
    from fastapi.testclient import TestClient

    from tests.helpers import assert_problem

    merchant = role_headers["merchant"]
    with TestClient(contract_app) as client:
        store = client.post("/v1/stores", json=store_body(), headers=merchant).json()
        assert client.post("/v1/deals", json=deal_body(store["id"]), headers=merchant).status_code == 201
        polar = {"location": {"type": "Point", "coordinates": [13.4, 89.5]}}
        body = assert_problem(client.patch(f"/v1/stores/{store['id']}", json=polar, headers=merchant), 409, "conflict")
        assert "poles" in body["detail"]
        assert client.get(f"/v1/stores/{store['id']}", headers=merchant).json()["location"]["coordinates"][1] < 60
