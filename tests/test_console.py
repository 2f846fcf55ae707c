"""The console's parts that need no browser: sealed sessions, the week grid, error placement, languages, charts,
the Content-Security-Policy, the export formats it offers, and its assets (the browser tests are in
tests/browser/console/)."""

from __future__ import annotations

import json
import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.requests import Request

from geo_offers.app import create_app
from geo_offers.console import charts, deal_fields, ledger, sessions, web
from geo_offers.console.api import Problem
from geo_offers.console.models import ConsoleSession
from geo_offers.kit.database import Database
from geo_offers.places.schedule import compile_windows
from geo_offers.settings import Settings
from geo_offers.tenants.auth import Principal
from tests.helpers import Keys, make_settings

ROOT = Path(__file__).resolve().parent.parent
LIFE = sessions.Lifetimes(absolute=timedelta(hours=8), idle=timedelta(minutes=30))
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def request_with(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/console", "headers": raw, "query_string": b""})


# --- sessions ----------------------------------------------------------------------------------------------------


def test_a_sealed_key_opens_only_with_its_own_token() -> None:
    token, other = sessions.new_token(), sessions.new_token()
    sealed = sessions.seal(token, "gok_0123456789ab_secret")
    assert sessions.unseal(token, sealed) == "gok_0123456789ab_secret"
    assert sessions.unseal(other, sealed) is None
    assert b"secret" not in sealed
    assert sessions.csrf_token(token) != sessions.csrf_token(other)
    assert sessions.csrf_matches(token, sessions.csrf_token(token)) and not sessions.csrf_matches(token, None)


def test_sessions_end_after_idling_or_their_lifetime_and_the_row_goes(settings: Settings, keys: Keys) -> None:
    db = Database(settings)
    try:
        key = keys.key("dpo")
        principal = Principal(key_id=key.split("_")[1], role="dpo", merchant_id=None)
        with db.transaction() as session:
            token = sessions.open_session(session, principal, key, NOW, LIFE)
            ident = sessions.session_id(token)
        with db.transaction() as session:
            found = sessions.load_session(session, token, NOW + timedelta(minutes=29), LIFE)
            assert found is not None and found.api_key == key and found.role == "dpo"
            assert sessions.load_session(session, sessions.new_token(), NOW, LIFE) is None
            assert sessions.load_session(session, "not a token", NOW, LIFE) is None
        with db.transaction() as session:  # touched at minute 29, so idle only from then on
            assert sessions.load_session(session, token, NOW + timedelta(minutes=58), LIFE) is not None
        with db.transaction() as session:
            assert sessions.load_session(session, token, NOW + timedelta(hours=8), LIFE) is None
        with db.transaction() as session:
            count = select(func.count()).select_from(ConsoleSession).where(ConsoleSession.id == ident)
            assert session.scalar(count) == 0
    finally:
        db.dispose()


# --- the deal form -----------------------------------------------------------------------------------------------


def test_the_week_grid_becomes_windows_and_back() -> None:
    grid = frozenset({(0, 9), (0, 10), (1, 9), (1, 10), (4, 22), (4, 23), (5, 0)})
    windows = deal_fields.grid_windows(grid)
    assert windows == [
        {"days": ["sat"], "start": "00:00", "end": "01:00"},
        {"days": ["mon", "tue"], "start": "09:00", "end": "11:00"},
        {"days": ["fri"], "start": "22:00", "end": "24:00"},
    ]
    assert deal_fields.windows_grid(windows) == (grid, True)
    minutes = [{"days": ["wed"], "start": "17:30", "end": "19:00"}]
    shown, exact = deal_fields.windows_grid(minutes)
    assert shown == {(2, 17), (2, 18)} and exact is False
    assert compile_windows(deal_fields.grid_windows(frozenset())).always
    assert deal_fields.parse_grid(["1-5", "7-1", "x", "1-24", "0-0"]) == {(1, 5), (0, 0)}


def test_an_unchanged_grid_keeps_the_deals_own_windows_on_an_edit() -> None:
    form = deal_fields.DealForm(store_id="3", title="t", grid=frozenset({(2, 17)}), grid_before="2-17")
    errors = deal_fields.Errors()
    body = deal_fields.api_body(form, "Europe/Berlin", editing=True, errors=errors, t=lambda key, **_: key)
    assert "windows" not in body and "status" not in body and not errors
    changed = deal_fields.api_body(
        deal_fields.DealForm(store_id="3", grid=frozenset(), grid_before="2-17", valid_from="2026-07-01T10:00"),
        "Europe/Berlin",
        editing=True,
        errors=errors,
        t=lambda key, **_: key,
    )
    assert changed["windows"] == [] and changed["valid_from"] == "2026-07-01T10:00:00+02:00"


def test_api_errors_land_at_their_fields_and_the_other_area_kind_is_left_out() -> None:
    member = "function-after[_no_nul(), {}]"
    problem = Problem(
        422,
        "Invalid input",
        "see errors",
        errors=[
            {"loc": ["body", "area", member.format("RadiusArea"), "radius_m"], "msg": "too small"},
            {"loc": ["body", "area", member.format("GeoJSONArea"), "type"], "msg": "Field required"},
            {"loc": ["body", "title"], "msg": "too short"},
            {"loc": ["body"], "msg": "valid_until must be after valid_from"},
        ],
    )
    placed = deal_fields.place_errors(problem, "radius")
    assert placed.fields == {
        "area": ["radius_m: too small"],
        "title": ["too short"],
        "valid_until": ["valid_until must be after valid_from"],
    }
    invalid = Problem(422, "Invalid input", "the polygon is not valid: Self-intersection")
    geometry = deal_fields.place_errors(invalid, "polygon")
    assert geometry.fields == {"area": ["the polygon is not valid: Self-intersection"]}
    other = deal_fields.place_errors(Problem(409, "Conflict", "something else"), "radius")
    assert other.general == ["something else"] and not other.fields


# --- languages, pages, assets ------------------------------------------------------------------------------------


def test_both_languages_have_every_message_with_the_same_placeholders() -> None:
    english, german = web.messages("en"), web.messages("de")
    assert english.keys() == german.keys()

    def placeholders(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for key in english:
        assert placeholders(english[key]) == placeholders(german[key]), key


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "en"),
        ({"accept-language": "de-DE,de;q=0.9,en;q=0.8"}, "de"),
        ({"accept-language": "fr-FR, en;q=0.5, de;q=0.7"}, "de"),
        ({"accept-language": "de;q=0, en-GB"}, "en"),
        ({"accept-language": "en", "cookie": "geo_console_lang=de"}, "de"),
        ({"accept-language": "de", "cookie": "geo_console_lang=xx"}, "de"),
    ],
)
def test_the_language_follows_the_choice_then_the_browser(headers: dict[str, str], expected: str) -> None:
    assert web.language(request_with(headers)) == expected


def test_the_policy_allows_only_the_service_and_a_configured_tile_server(database_url: str) -> None:
    plain = web.csp(make_settings(database_url))
    assert "default-src 'none'" in plain and "script-src 'self';" in plain and "http" not in plain
    tiles = make_settings(database_url, console_tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: https://*.tiles.example.org;" in web.csp(tiles)


def test_suppressed_figures_are_drawn_as_such_never_as_zero() -> None:
    chart = charts.bar_chart([("2026-11-01", 40), ("2026-11-02", None), ("2026-11-03", 0)])
    published, suppressed, zero = chart.bars
    assert suppressed.suppressed and suppressed.value is None and suppressed.height == charts.STUB
    assert zero.height == 0 and not zero.suppressed and published.height > 0
    rows = charts.heat_rows([(0, 10), (1, None)])
    assert rows[0][0].level == charts.HEAT_LEVELS - 1 and rows[0][1].level == -1 and rows[6][23].level == -1


def test_the_export_buttons_follow_the_formats_the_openapi_document_offers(database_url: str) -> None:
    service = create_app(make_settings(database_url), log=False)
    offered = ledger.export_formats(request_with_app(service))
    assert {"csv", "jsonl"} <= set(offered)
    later = FastAPI()

    @later.get(ledger.EXPORT_PATH)
    def export(format: Literal["csv", "jsonl", "dpv"] = "jsonl") -> None:
        """A stand-in with the standard records added, as the audit work will add them."""

    assert ledger.export_formats(request_with_app(later)) == ["csv", "jsonl", "dpv"]


def request_with_app(app: FastAPI) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b"", "app": app})


def test_the_console_is_not_part_of_the_api_document(database_url: str) -> None:
    schema = create_app(make_settings(database_url), log=False).openapi()
    assert not [path for path in schema["paths"] if path.startswith("/console")]


def test_the_vendored_leaflet_is_the_locked_npm_release() -> None:
    locked = json.loads((ROOT / "web" / "package-lock.json").read_text())["packages"]["node_modules/leaflet"]
    installed = ROOT / "web" / "node_modules" / "leaflet"
    if not installed.exists():
        pytest.fail("web/node_modules is missing: run scripts/test (npm ci in web/)")
    assert json.loads((installed / "package.json").read_text())["version"] == locked["version"]
    vendored = ROOT / "geo_offers" / "console" / "static" / "vendor" / "leaflet"
    for name in ("leaflet.js", "leaflet.css"):
        assert (vendored / name).read_bytes() == (installed / "dist" / name).read_bytes(), name


def test_templates_load_nothing_from_elsewhere() -> None:
    templates = ROOT / "geo_offers" / "console" / "templates"
    for page in templates.glob("*.html"):
        text = page.read_text()
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), page.name
        assert "<script>" not in text and " style=" not in text, page.name  # nothing inline: the policy forbids it
