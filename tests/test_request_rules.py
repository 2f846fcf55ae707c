"""The request rules the document states and FastAPI alone does not enforce, on every documented operation:
no unknown or repeated query parameters, bodies only in the media types an operation takes, malformed JSON as
400, and 405 answers that list every method of the resource. The match fast path answers the same."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from geo_offers.app import create_app
from geo_offers.kit.database import Database
from geo_offers.settings import Settings
from tests.helpers import Keys, assert_problem, grant, make_settings, new_subject

Headers = dict[str, str]
ROLES = ("app", "merchant", "dpo", "admin")
DOCUMENT = create_app(Settings(environment="test"), log=False).openapi()
OPERATIONS = [
    (method.upper(), path)
    for path, item in DOCUMENT["paths"].items()
    for method in item
    if method in {"get", "post", "patch", "put", "delete"}
]
#: A valid value for every path parameter, so that the route itself (not a 404) answers.
PATH_VALUES = {
    "{subject_id}": "6f1c2d9e-8a43-4b7e-9a51-2f0c7d3e4b15",
    "{cell}": "851f1d4bfffffff",
    "{deal_id}": "1",
    "{store_id}": "1",
    "{key_id}": "0123456789ab",
    "{version}": "1",
    "{slug}": "invalid-input",
}


def _concrete(path: str) -> str:
    for template, value in PATH_VALUES.items():
        path = path.replace(template, value)
    assert "{" not in path, path
    return path


@pytest.fixture(scope="module", params=[True, False], ids=["fast-path", "framework"])
def rules_client(request: pytest.FixtureRequest, database_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(database_url, match_fast_path=request.param), log=False)
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def any_role(database_url: str) -> Iterator[Callable[[str], Headers]]:
    """A key whose role may use the operation, so that the answer is the route's and not a 403."""
    db = Database(make_settings(database_url))
    keys = Keys(db)
    merchant = keys.merchant()
    headers = {role: keys.headers(role, merchant if role == "merchant" else None) for role in ROLES}

    def pick(path: str) -> Headers:
        if path.startswith("/v1/audit"):
            return headers["dpo"]
        if path.startswith(("/v1/stores", "/v1/deals", "/v1/insights")):
            return headers["merchant"]
        if path.startswith(("/v1/admin", "/v1/notices")) and not path.startswith("/v1/notices/"):
            return headers["admin"]
        return headers["app"]

    yield pick
    db.dispose()


def test_the_audit_filter_named_subject_id_is_refused_not_ignored(
    client: TestClient, dpo_headers: Headers, app_headers: Headers, notice_version: int
) -> None:
    grant(client, app_headers, new_subject(), notice_version)
    response = client.get("/v1/audit/consent-events", params={"subject_id": new_subject()}, headers=dpo_headers)
    body = assert_problem(response, 422, "invalid-input")
    assert "subject_id" in body["detail"]
    assert body["errors"] == [
        {"loc": ["query", "subject_id"], "msg": body["errors"][0]["msg"], "type": "extra_forbidden"}
    ]
    assert "subject" in body["errors"][0]["msg"]  # it names what the route takes


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_refuses_an_unknown_query_parameter(
    method: str, path: str, rules_client: TestClient, any_role: Callable[[str], Headers]
) -> None:
    response = rules_client.request(
        method, _concrete(path), params={"no_such_parameter": "1"}, headers=any_role(path), json=None
    )
    body = assert_problem(response, 422, "invalid-input")
    assert "no_such_parameter" in body["detail"]
    assert [e["loc"] for e in body["errors"]] == [["query", "no_such_parameter"]]


def test_a_scalar_query_parameter_sent_twice_is_refused(client: TestClient, dpo_headers: Headers) -> None:
    url = "/v1/audit/consent-events?until=2026-01-01T00:00:00Z&until=2027-01-01T00:00:00Z"
    body = assert_problem(client.get(url, headers=dpo_headers), 422, "invalid-input")
    assert "until" in body["detail"]
    assert [e["loc"] for e in body["errors"]] == [["query", "until"]]
    assert client.get("/v1/stores?limit=5&limit=6", headers=dpo_headers).status_code == 422


def test_a_repeatable_query_parameter_may_be_repeated(client: TestClient, dpo_headers: Headers) -> None:
    response = client.get("/v1/audit/consent-events?type=grant&type=withdraw", headers=dpo_headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/v1/offers/match", "app"),
        ("/v1/consents", "app"),
        ("/v1/stores", "merchant"),
        ("/v1/admin/merchants", "admin"),
    ],
)
def test_malformed_json_is_a_400_problem(path: str, role: str, rules_client: TestClient, keys: Keys) -> None:
    headers = {
        **keys.headers(role, keys.merchant() if role == "merchant" else None),
        "content-type": "application/json",
    }
    for body in (b'{"subject_id": ', b"not json", b'{"a": 1,}', b"\xff\xfe{}"):
        response = rules_client.post(path, content=body, headers=headers)
        assert_problem(response, 400, "malformed-json")


@pytest.mark.parametrize("path", ["/v1/offers/match", "/v1/consents", "/v1/admin/merchants"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_in_a_media_type_the_route_does_not_take_is_a_415_problem(
    path: str, content_type: str | None, rules_client: TestClient, any_role: Callable[[str], Headers]
) -> None:
    headers = dict(any_role(path))
    if content_type is not None:
        headers["content-type"] = content_type
    response = rules_client.post(path, content=b'{"name": "x"}', headers=headers)
    body = assert_problem(response, 415, "unsupported-media-type")
    assert "application/json" in body["detail"]


def test_json_with_a_charset_and_the_import_types_are_taken(
    rules_client: TestClient, any_role: Callable[[str], Headers]
) -> None:
    headers = {**any_role("/v1/admin/merchants"), "content-type": "application/json; charset=utf-8"}
    assert rules_client.post("/v1/admin/merchants", content=b'{"name": "Kiosk"}', headers=headers).status_code == 201
    merchant = any_role("/v1/stores")
    csv = b"name,address,lon,lat\nKiosk,Hauptstr. 1,13.4,52.5\n"
    for media, data in (("text/csv", csv), ("application/geo+json", b'{"type": "FeatureCollection"}')):
        response = rules_client.post("/v1/stores/import", content=data, headers={**merchant, "content-type": media})
        assert response.status_code != 415, response.text


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/v1/admin/keys", {"GET", "POST"}),
        ("/v1/admin/merchants", {"GET", "POST"}),
        ("/v1/stores", {"GET", "POST"}),
        ("/v1/stores/1", {"GET", "PATCH", "DELETE"}),
        ("/v1/deals", {"GET", "POST"}),
        ("/v1/deals/1", {"GET", "PATCH", "DELETE"}),
        ("/v1/offers/match", {"POST"}),
        ("/v1/stores/import", {"POST"}),
        ("/v1/consents/decline", {"POST"}),
        ("/v1/notices/current", {"GET"}),
    ],
)
def test_a_405_lists_every_method_of_the_resource(path: str, methods: set[str], rules_client: TestClient) -> None:
    for method in ("OPTIONS", "PUT"):
        response = rules_client.request(method, path)
        assert_problem(response, 405, "method-not-allowed")
        assert {m.strip() for m in response.headers["allow"].split(",")} == methods


def test_every_problem_type_the_service_sends_is_explained(client: TestClient) -> None:
    from geo_offers.kit.problem_docs import explained_slugs

    for slug in explained_slugs():
        page = client.get(f"/problems/{slug}")
        assert page.status_code == 200, slug
        assert page.json()["explanation"] != "See the API documentation.", slug
    for slug in ("malformed-json", "unsupported-media-type", "method-not-allowed"):
        assert slug in explained_slugs()


def _shape(response: Any) -> tuple[int, str, Any]:
    body = response.json()
    return response.status_code, body["type"], [tuple(e["loc"]) for e in body.get("errors", [])]


def test_the_fast_path_applies_the_same_rules(database_url: str, keys: Keys, app_headers: Headers) -> None:
    fast = create_app(make_settings(database_url, match_fast_path=True), log=False)
    slow = create_app(make_settings(database_url, match_fast_path=False), log=False)
    good = {"subject_id": new_subject(), "cell": "871f1d489ffffff"}
    json_type = {"content-type": "application/json"}
    cases: list[tuple[str, Headers, bytes]] = [
        ("?subject=1", app_headers, b"{}"),
        ("?limit=1&limit=2", app_headers, b"{}"),
        ("?x=1", {}, b"{}"),
        ("", {**app_headers, **json_type}, b"{"),
        ("", {**json_type}, b"{"),  # no key: the body is read first, as the framework does
        ("", {**app_headers, "content-type": "text/plain"}, b"{}"),
        ("", app_headers, b"{}"),  # a body without a content type
        ("", {**app_headers, **json_type}, b"[1]"),
        ("", {"Authorization": "Basic x", **json_type}, b'{"cell": 1}'),
    ]
    with TestClient(fast) as fast_client, TestClient(slow) as slow_client:
        for query, headers, body in cases:
            answers = [
                _shape(c.post("/v1/offers/match" + query, content=body, headers=headers))
                for c in (fast_client, slow_client)
            ]
            assert answers[0] == answers[1], (query, headers, body)
        assert fast_client.post("/v1/offers/match", json=good, headers=app_headers).status_code == 403


#: A frequency rule's own discriminator is called `kind` (`{"kind": "max_shows", ...}`): a field of another thing.
RULE_SCHEMAS = ("MaxShows", "RedeemCooldown", "OncePerDevice")


def _without_rules(node: Any) -> Any:
    """The document without the frequency rules' schemas and the references to them."""
    if isinstance(node, dict):
        if node.get("discriminator", {}).get("propertyName") == "kind":
            return None
        return {k: _without_rules(v) for k, v in node.items() if k not in RULE_SCHEMAS}
    if isinstance(node, list):
        return [_without_rules(v) for v in node]
    return node


def test_an_offer_event_is_called_by_its_type_everywhere() -> None:
    """The request field is `type`; README, docs and the document once spoke of an event's `kind`.

    Frequency rules have a discriminator of their own called `kind` (a rule's kind, not an event's): their part of
    the README and their schemas are left out of the search.
    """
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    schemas = DOCUMENT["components"]["schemas"]
    fields = schemas["EventRequest"]["properties"]
    assert "type" in fields and "kind" not in fields
    assert set(RULE_SCHEMAS) <= set(schemas)
    texts = {"openapi.json": json.dumps(_without_rules(DOCUMENT))}
    texts.update({str(p.relative_to(root)): p.read_text() for p in [root / "README.md", *(root / "docs").glob("*.md")]})
    readme = texts["README.md"]
    rules = readme.index("### Frequency rules")
    texts["README.md"] = readme[:rules] + readme[readme.index("\n### ", rules + 1) :]
    for name, text in texts.items():
        assert not re.search(r"(?i)\bkinds?\b", text), name
    assert '"type": "click"' in texts["README.md"] and "`type` is `impression`, `click` or `redeem`" in readme
