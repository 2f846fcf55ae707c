"""Bulk store import: GeoJSON and CSV, row-by-row validation, one transaction, the CLI with a progress bar."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from geo_offers.cli import main
from geo_offers.kit.database import Database
from geo_offers.places.stores.importer import MAX_ROWS
from tests.helpers import assert_problem

Headers = dict[str, str]
GEOJSON = {"content-type": "application/geo+json"}
CSV = {"content-type": "text/csv"}


def feature(lon: float, lat: float, **properties: Any) -> dict[str, Any]:
    props = {"name": f"Filiale {lon:.3f}", "address": "Hauptstr. 1, Berlin", **properties}
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}


def collection(*features: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": "FeatureCollection", "features": list(features)})


def store_count(db: Database, merchant_id: int) -> int:
    with db.engine.connect() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM stores WHERE merchant_id = :m"), {"m": merchant_id}).scalar()
        )


@pytest.fixture
def merchant(keys: Any) -> tuple[int, Headers]:
    merchant_id = keys.merchant()
    return merchant_id, keys.headers("merchant", merchant_id)


def test_geojson_import_reports_failed_rows_and_writes_the_valid_ones(
    client: TestClient, merchant: tuple[int, Headers], db: Database
) -> None:
    merchant_id, headers = merchant
    body = collection(
        feature(13.40, 52.52, categories=["cafe"]),
        feature(200.0, 52.52),  # longitude out of range
        feature(9.99, 53.55, timezone="Europe/Berlin"),
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [11.5, 48.1]}, "properties": {"name": "x"}},
        feature(11.57, 48.14, timezone="Mars/Base"),
    )
    response = client.post("/v1/stores/import", content=body, headers={**headers, **GEOJSON})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["imported"] == 2 and len(result["store_ids"]) == 2
    failed = {f["row"]: " ".join(f["errors"]) for f in result["failed"]}
    assert set(failed) == {2, 4, 5}
    assert "coordinates" in failed[2] and "address" in failed[4] and "timezone" in failed[5]
    listed = client.get("/v1/stores", headers=headers).json()["items"]
    assert [s["id"] for s in listed] == result["store_ids"] and listed[0]["categories"] == ["cafe"]
    assert store_count(db, merchant_id) == 2


def test_csv_import(client: TestClient, merchant: tuple[int, Headers]) -> None:
    _, headers = merchant
    body = (
        "name,address,lon,lat,timezone,categories\n"
        'Café Elbe,"Elbchaussee 1, Hamburg",9.95,53.54,Europe/Berlin,cafe;bakery\n'
        "Kaputt,Nirgendwo 1,abc,53.5,,\n"
        "Sport Süd,Leopoldstr. 2 München,11.58,48.16,,sports\n"
    ).encode()
    result = client.post("/v1/stores/import", content=body, headers={**headers, **CSV}).json()
    assert result["imported"] == 2 and [f["row"] for f in result["failed"]] == [3]
    first = client.get(f"/v1/stores/{result['store_ids'][0]}", headers=headers).json()
    assert first["categories"] == ["cafe", "bakery"] and first["address"] == "Elbchaussee 1, Hamburg"
    assert first["location"]["coordinates"] == [9.95, 53.54]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "slug", "fragment"),
    [
        (b'{"type": "Feature"}', "application/geo+json", 422, "invalid-input", "FeatureCollection"),
        (b"not json", "application/json", 400, "malformed-json", "JSON"),
        (b'{"type": "FeatureCollection", "features": []}', "application/geo+json", 422, "invalid-input", "no stores"),
        (b"name,address,lon\nA,B,1\n", "text/csv", 422, "invalid-input", "missing: lat"),
        (b"name,address,lon,lat,secret\nA,B,1,2,x\n", "text/csv", 422, "invalid-input", "unknown: secret"),
        (b"lat,lon,name,address\n1,2,A,B\n", "text/csv", 422, "invalid-input", "in this order"),
        (b"<xml/>", "application/xml", 415, "unsupported-media-type", "text/csv"),
    ],
)
def test_a_bad_file_is_refused_whole(
    client: TestClient,
    merchant: tuple[int, Headers],
    db: Database,
    body: bytes,
    content_type: str,
    status: int,
    slug: str,
    fragment: str,
) -> None:
    merchant_id, headers = merchant
    response = client.post("/v1/stores/import", content=body, headers={**headers, "content-type": content_type})
    assert fragment in assert_problem(response, status, slug)["detail"]
    assert store_count(db, merchant_id) == 0


def test_json_beyond_64_bit_integers_is_still_json(client: TestClient, merchant: tuple[int, Headers]) -> None:
    _, headers = merchant
    body = b'{"type": "FeatureCollection", "features": [{"type": "Feature", "id": 123456789012345678901234567890}]}'
    response = client.post("/v1/stores/import", content=body, headers={**headers, **GEOJSON})
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 0 and response.json()["failed"][0]["row"] == 1


def test_more_than_the_row_limit_is_refused(client: TestClient, merchant: tuple[int, Headers], db: Database) -> None:
    merchant_id, headers = merchant
    one = json.dumps(feature(13.4, 52.5))
    body = ('{"type":"FeatureCollection","features":[' + ",".join([one] * (MAX_ROWS + 1)) + "]}").encode()
    response = client.post("/v1/stores/import", content=body, headers={**headers, **GEOJSON})
    assert str(MAX_ROWS) in assert_problem(response, 422, "invalid-input")["detail"]
    assert store_count(db, merchant_id) == 0


def test_a_large_import_is_one_transaction(client: TestClient, merchant: tuple[int, Headers], db: Database) -> None:
    merchant_id, headers = merchant
    features = [feature(6.0 + i * 1e-4, 50.0 + (i % 100) * 1e-3) for i in range(12_000)]
    result = client.post("/v1/stores/import", content=collection(*features), headers={**headers, **GEOJSON}).json()
    assert result["imported"] == 12_000 and result["failed"] == []
    assert result["store_ids"] == sorted(result["store_ids"])
    assert store_count(db, merchant_id) == 12_000


def test_only_merchants_import(client: TestClient, app_headers: Headers) -> None:
    body = collection(feature(13.4, 52.5))
    assert_problem(client.post("/v1/stores/import", content=body, headers={**app_headers, **GEOJSON}), 403, "forbidden")


def test_the_cli_imports_with_a_progress_bar(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    db: Database,
    keys: Any,
) -> None:
    monkeypatch.setenv("GEO_OFFERS_DATABASE_URL", database_url)
    merchant_id = keys.merchant()
    path = tmp_path / "stores.geojson"
    path.write_bytes(collection(feature(13.4, 52.5), feature(13.5, 95.0), feature(13.6, 52.4)))
    assert main(["stores", "import", str(path), "--merchant", str(merchant_id)]) == 3
    out, err = capsys.readouterr()
    ids = [int(line) for line in out.splitlines()]
    assert len(ids) == 2 and "row 2: location.coordinates.1 (lat)" in err and "2/2" in err
    assert store_count(db, merchant_id) == 2
    csv_path = tmp_path / "stores.csv"
    csv_path.write_text("name,address,lon,lat\nA,Weg 1,8.68,50.11\n")
    assert main(["stores", "import", str(csv_path), "--merchant", str(merchant_id)]) == 0
    four = tmp_path / "four.csv"  # the bar counts the file's rows, then the stores inserted (it once said 2/2)
    four.write_text("name,address,lon,lat\nA,Weg 1,8.68,50.11\nB,Weg 2,x,50\nC,Weg 3,8.7,50.1\nD,Weg 4,8.7,99\n")
    assert main(["stores", "import", str(four), "--merchant", str(merchant_id)]) == 3
    err = capsys.readouterr().err
    assert re.search(r"checking rows .* 4/4", err) and re.search(r"inserting stores .* 2/2", err)
    assert "4 rows: imported 2 stores, 2 rows failed" in err
    assert main(["stores", "import", str(csv_path), "--merchant", "999999999"]) == 1


def test_imported_stores_belong_to_the_importer_only(
    client: TestClient, merchant: tuple[int, Headers], merchant_headers: Callable[..., Headers]
) -> None:
    _, headers = merchant
    result = client.post("/v1/stores/import", content=collection(feature(13.4, 52.5)), headers={**headers, **GEOJSON})
    store_id = result.json()["store_ids"][0]
    assert_problem(client.get(f"/v1/stores/{store_id}", headers=merchant_headers()), 404, "not-found")
