"""The data-protection officer's console in headless Chromium: filter and page the ledger, look up a subject,
verify the chain against a signed checkpoint, export, and read the reports; axe-core on every page."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import h3.api.basic_int as h3
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Browser

from consent.ledger import checkpoints
from geo_offers.cli import main
from geo_offers.settings import Settings
from tests.browser.conftest import LiveServer
from tests.browser.console.conftest import Console, open_console
from tests.browser.console.world import BERLIN, World, make_world
from tests.helpers import make_settings

SEED = bytes(range(32))
SIGNING = Ed25519PrivateKey.from_private_bytes(SEED)
GRANTS, DECLINES, WITHDRAWALS = 26, 2, 3


@pytest.fixture(scope="module")
def server_settings(module_database_url: str) -> Settings:
    public = checkpoints.public_bytes(SIGNING.public_key()).hex()
    return make_settings(module_database_url, ledger_signing_key=SEED.hex(), ledger_public_key=public, k_anonymity=5)


@dataclass
class Ledger:
    world: World
    subjects: list[str]
    declined: list[str]


@pytest.fixture(scope="module")
def ledger(live_server: LiveServer, server_settings: Settings) -> Iterator[Ledger]:
    world = make_world(live_server.url, server_settings)
    subjects = [world.subject() for _ in range(GRANTS)]
    declined = []
    for _ in range(DECLINES):
        declined.append(str(uuid.uuid4()))
        world.ok(
            "POST",
            "/v1/consents/decline",
            world.app,
            json={"subject_id": declined[-1], "notice_version": 1, "source": "onboarding", "locale": "de-DE"},
        )
    for subject in subjects[:WITHDRAWALS]:
        world.ok("POST", "/v1/consents/withdraw", world.app, json={"subject_id": subject})
    with world.db.transaction() as session:
        assert checkpoints.create(session, SIGNING, datetime.now(UTC)) is not None
    store = world.store("Kaffeebar Mitte", *BERLIN)  # one insight release, for the privacy-budget log
    world.ok("GET", f"/v1/insights/stores/{store['id']}/suggested-windows", world.merchant)
    yield Ledger(world, subjects, declined)
    world.close()


def rows(console: Console) -> list[str]:
    return console.page.locator("tr.event").evaluate_all("rows => rows.map(r => r.dataset.type)")


def test_the_officer_filters_and_pages_the_ledger_and_verifies_it_live(console: Console, ledger: Ledger) -> None:
    console.sign_in(ledger.world.dpo)
    page = console.page
    assert urlsplit(page.url).path == "/console/ledger"
    assert len(rows(console)) == GRANTS + DECLINES + WITHDRAWALS
    console.check("dpo-ledger")
    page.select_option("#limit", "25")
    page.check("#type-grant")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("load")
    assert rows(console) == ["grant"] * 25
    assert parse_qs(urlsplit(page.url).query)["type"] == ["grant"]
    page.click("a[rel=next]")
    page.wait_for_load_state("load")
    assert rows(console) == ["grant"] * (GRANTS - 25) and "Last page" in console.text("nav.pager")
    page.uncheck("#type-grant")
    page.check("#type-withdraw")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("load")
    assert rows(console) == ["withdraw"] * WITHDRAWALS
    console.check()
    response = page.goto(f"{console.origin}/console/ledger?notice_version=0")
    assert response is not None and response.status == 422
    assert "Invalid input" in console.text(".problem h2") and console.text("#notice_version_error")
    console.go("/console/verify")
    assert page.locator("tr.checkpoint").count() == 1 and "yes" in console.text("tr.checkpoint")
    page.click("#verify-now")
    page.wait_for_load_state("load")
    assert "The chain is intact" in console.text(".verify-result")
    assert console.text("#checkpoints-checked") == "1"
    assert str(GRANTS + DECLINES + WITHDRAWALS) in console.text(".verify-result")
    console.check("dpo-verify")


def test_a_subject_is_looked_up_by_the_typed_id_which_stays_out_of_every_url(console: Console, ledger: Ledger) -> None:
    subject = ledger.subjects[0]  # granted, then withdrew
    console.sign_in(ledger.world.dpo)
    console.go("/console/subject")
    page = console.page
    page.fill("#subject", subject)
    page.click("form[action='/console/subject'] button[type=submit]")
    page.wait_for_load_state("load")
    assert rows(console) == ["grant", "withdraw"]
    console.check("dpo-subject")
    with page.expect_download() as download:
        page.click("button[name=format][value=jsonl]")
    header, *lines = Path(download.value.path()).read_text().splitlines()
    assert json.loads(header)["filter"] == {"subject": True}  # the export names no subject id
    assert [json.loads(line)["type"] for line in lines] == ["grant", "withdraw"]
    page.fill("#subject", "00000000-0000-4000-8000-000000000000")
    page.click("form[action='/console/subject'] button[type=submit]")
    page.wait_for_load_state("load")
    assert "Nothing is held" in console.text("main") and rows(console) == []
    assert not any(subject in url for url in console.requests)


def test_the_filtered_ledger_is_exported_as_csv_and_json_lines_with_every_hash(
    console: Console, ledger: Ledger
) -> None:
    console.sign_in(ledger.world.dpo)
    console.go("/console/ledger?type=decline")
    page = console.page
    offered = {
        a.split("format=")[1].split("&")[0] for a in page.locator(".exports a").evaluate_all("l => l.map(a => a.href)")
    }
    schema = ledger.world.http.get("/openapi.json").json()
    parameter = next(
        p for p in schema["paths"]["/v1/audit/consent-events/export"]["get"]["parameters"] if p["name"] == "format"
    )
    assert offered == {f for f in ("csv", "jsonl", "dpv") if f'"{f}"' in json.dumps(parameter)}  # dpv once it exists
    with page.expect_download() as download:
        page.click("a[href*='format=csv']")
    header, body = Path(download.value.path()).read_text().split("\n", 1)
    assert json.loads(header)["filter"] == {"type": ["decline"]} and json.loads(header)["format"] == "csv"
    table = list(csv.DictReader(io.StringIO(body)))
    assert [r["type"] for r in table] == ["decline"] * DECLINES and all(len(r["hash"]) == 64 for r in table)
    with page.expect_download() as download:
        page.click("a[href*='format=jsonl']")
    header_line, *lines = [json.loads(line) for line in Path(download.value.path()).read_text().splitlines()]
    assert header_line["scope"] == "filtered"
    assert [e["type"] for e in lines] == ["decline"] * DECLINES and all(e["prev_hash"] for e in lines)


def test_a_full_export_from_the_console_verifies_offline_against_the_signed_checkpoint(
    console: Console, ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    console.sign_in(ledger.world.dpo)
    console.go("/console/ledger")
    with console.page.expect_download() as download:
        console.page.click("a[href*='format=jsonl']")
    export = tmp_path / "ledger.jsonl"
    download.value.save_as(str(export))
    saved = tmp_path / "checkpoints.json"
    saved.write_text(json.dumps(ledger.world.ok("GET", "/v1/audit/ledger/checkpoints", ledger.world.dpo)))
    public = checkpoints.public_bytes(SIGNING.public_key()).hex()
    capsys.readouterr()
    status = main(["ledger", "verify-export", str(export), "--checkpoint", str(saved), "--public-key", public])
    result = json.loads(capsys.readouterr().out)
    assert status == 0 and result["ok"] is True and result["complete"] is True, result


def test_the_officer_reads_the_summary_the_printable_record_the_access_log_and_the_budget(
    console: Console, ledger: Ledger
) -> None:
    world = ledger.world
    console.sign_in(world.dpo)
    page = console.page
    console.go("/console/summary")
    assert page.locator("svg rect.seg-grants").count() >= 1
    today = page.locator("table.list tbody tr").last.inner_text()
    assert str(GRANTS) in today and str(WITHDRAWALS) in today
    console.check("dpo-summary")
    console.go("/console/record")
    assert "Art. 30" in console.text("h1") and page.locator("#print-page").is_visible()
    page.emulate_media(media="print")
    assert page.locator("header.top").is_hidden() and page.locator("#print-page").is_hidden()
    page.emulate_media(media="screen")
    console.check("dpo-record")
    console.go("/console/access-log")
    dpo_key_id = world.dpo.split("_")[1]
    routes = page.locator("tr.access").all_inner_texts()
    assert any("/v1/audit/processing-record" in r and dpo_key_id in r for r in routes)
    console.check("dpo-access-log")
    page.fill("#key_id", "0" * 12)
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("load")
    assert page.locator("tr.access").count() == 0 and "No calls match" in console.text("table")
    console.go("/console/budget")
    (release,) = page.locator("tr.release").all_inner_texts()
    cell = format(h3.latlng_to_cell(BERLIN[1], BERLIN[0], 6), "x")
    assert f"activity in cell {cell}" in release and str(world.merchant_id) in release
    console.check("dpo-budget")


def test_the_officer_only_reads(console: Console, ledger: Ledger) -> None:
    world = ledger.world
    console.sign_in(world.dpo)
    response = console.page.goto(f"{console.origin}/console/stores")
    assert response is not None and response.status == 403 and "store (merchant) keys" in console.text(".problem")
    console.check()
    token = console.page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    answer = console.page.request.post(
        f"{console.origin}/console/deals/1/status", form={"status": "ended", "csrf_token": token}
    )
    assert answer.status == 403


def test_every_officer_page_loads_only_from_the_service_and_fits_a_tablet(
    browser: Browser, live_server: LiveServer, axe_path: Path, shots: Path, ledger: Ledger
) -> None:
    ctx, console = open_console(
        browser, live_server, axe_path, shots, viewport={"width": 820, "height": 1180}, locale="de-DE"
    )
    pages = ("/console/ledger", "/console/subject", "/console/verify?run=1", "/console/summary", "/console/record",
             "/console/access-log", "/console/budget")  # fmt: skip
    try:
        console.sign_in(ledger.world.dpo)
        for path in pages:
            console.go(path)
            assert console.page.get_attribute("html", "lang") == "de"
            assert console.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
            console.check()
        assert console.foreign() == []
    finally:
        ctx.close()
