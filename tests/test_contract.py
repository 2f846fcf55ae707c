"""Contract fuzzing: schemathesis against the service's own OpenAPI document, for every route and every role.

For each operation, each caller (app, merchant, dpo and admin keys, and no key at all) and each generation mode
(data that fits the schema, data that does not), a few generated requests go through the real app and real
PostgreSQL. Every answer must be a non-5xx; every 4xx a problem+json with type, title, status and detail; and
every 2xx must match the response schema the document declares.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from geo_offers.app import create_app
from geo_offers.kit.database import Database
from geo_offers.settings import Settings
from tests.helpers import Keys, deal_body, make_settings, notice_body, store_body

ROLES = ("app", "merchant", "dpo", "admin", None)
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# A few examples per operation, role and mode keep the file near a minute; raise it for a deeper run.
EXAMPLES = int(os.environ.get("GEO_OFFERS_CONTRACT_EXAMPLES", "10"))

# The document is built without a database: nothing connects until the lifespan runs.
SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(environment="test"), log=False).openapi())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


def _has_inputs(operation: schemathesis.APIOperation) -> bool:
    """Whether there is anything to make invalid (the key is set by the test, whatever was generated).

    A path parameter that is any string cannot be made invalid: every path segment is a string.
    """
    headers = [h for h in operation.headers if h.name.lower() != "authorization"]
    constrained_path = [p for p in operation.path_parameters if set(p.definition.get("schema", {})) - {"type", "title"}]
    return bool(len(operation.body) or constrained_path or len(operation.query) or headers)


CASES = [
    pytest.param(op, mode, id=f"{op.label}-{mode.value}")
    for op in OPERATIONS
    for mode in MODES
    if mode is GenerationMode.POSITIVE or _has_inputs(op)
]


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
        if client.get("/v1/notices/current", headers=headers["app"]).status_code == 404:
            assert client.post("/v1/notices", json=notice_body(), headers=headers["admin"]).status_code == 201
        store = client.post("/v1/stores", json=store_body(), headers=headers["merchant"])
        assert store.status_code == 201, store.text
        deal = client.post("/v1/deals", json=deal_body(store.json()["id"]), headers=headers["merchant"])
        assert deal.status_code == 201, deal.text
    yield headers
    db.dispose()


def assert_contract(case: schemathesis.Case, response: schemathesis.Response, positive: bool) -> None:
    """No 5xx; every status and content type is documented; 4xx answers are problem+json with the RFC 9457
    members; valid requests get answers that match their schema, and invalid ones are refused."""
    checks: list[Any] = [not_a_server_error, status_code_conformance, content_type_conformance]
    if positive:
        checks.append(response_schema_conformance)
    elif response.status_code != 413:  # too large is a refusal too, one the check does not know
        checks.append(negative_data_rejection)
    case.validate_response(response, checks=checks)
    status = response.status_code
    assert status < 500, (case.as_curl_command(), response.text)
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
@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_operation_honours_the_contract(
    operation: schemathesis.APIOperation,
    role: str | None,
    mode: GenerationMode,
    contract_app: FastAPI,
    role_headers: dict[str | None, dict[str, str]],
) -> None:
    auth = role_headers[role]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        case.headers.pop("Authorization", None)
        case.headers.update(auth)
        response = case.call(app=contract_app)
        assert_contract(case, response, positive=mode is GenerationMode.POSITIVE)

    run()


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
