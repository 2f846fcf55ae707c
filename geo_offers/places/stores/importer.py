"""Bulk store import from a GeoJSON FeatureCollection of Points or a CSV with lon/lat columns.

Every row is validated on its own (the same rules as ``POST /v1/stores``); the answer names each failed row and
why, and the valid rows go in as one transaction. A file that is not a FeatureCollection or a CSV with the
needed columns, or that holds more than ``MAX_ROWS`` rows, is refused as a whole and nothing is written.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy.orm import Session

from consent.errors import InvalidInput, MalformedBody, UnsupportedMediaType
from geo_offers.places.stores import repository as stores_repo
from geo_offers.places.stores.schemas import StoreCreate

MAX_ROWS = 100_000
#: Told to a progress callback as ``(stage, done, total)``: first every row of the file, then the valid ones.
STAGE_CHECK = "checking rows"
STAGE_INSERT = "inserting stores"
Progress = Callable[[str, int, int], None]
CSV_REQUIRED = ("name", "address", "lon", "lat")
CSV_OPTIONAL = ("timezone", "categories")
#: The CSV header line, exactly: the OpenAPI document states it as the start of the body's pattern.
CSV_HEADER = re.compile("name,address,lon,lat(,timezone)?(,categories)?")


@dataclass
class ImportOutcome:
    """What an import did: ids of the stores written (input order) and the failed rows with reasons."""

    store_ids: list[int] = field(default_factory=list)
    failed: list[tuple[int, list[str]]] = field(default_factory=list)


#: A point's coordinates by the names of a CSV's columns (GeoJSON's order is the same: longitude, latitude).
_COORDINATES = {
    "location.coordinates.0": "location.coordinates.0 (lon)",
    "location.coordinates.1": "location.coordinates.1 (lat)",
}


def _messages(error: ValidationError) -> list[str]:
    out = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        where = _COORDINATES.get(where, where)
        msg = str(item["msg"]).removeprefix("Value error, ")
        out.append(f"{where}: {msg}" if where else msg)
    return out


def _features(data: bytes) -> Iterator[tuple[int, Any]]:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        # orjson refuses what JSON allows but it does not handle (integers beyond 64 bits): ask the standard
        # library, which reads every JSON text, before calling the file malformed.
        try:
            document = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise MalformedBody(f"the file is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise InvalidInput("a GeoJSON import must be a FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise InvalidInput("a FeatureCollection needs a features list")
    _check_count(len(features))
    for number, feature in enumerate(features, 1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            yield number, ValueError("not a GeoJSON Feature")
            continue
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            yield number, ValueError("properties must be an object")
            continue
        yield number, {**properties, "location": feature.get("geometry")}


def _rows(data: bytes) -> Iterator[tuple[int, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("a CSV import must be UTF-8") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in CSV_REQUIRED if c not in columns]
    unknown = [c for c in columns if c not in CSV_REQUIRED + CSV_OPTIONAL]
    if missing or unknown or not CSV_HEADER.fullmatch(re.split(r"\r\n|\n|\r", text, maxsplit=1)[0]):
        raise InvalidInput(
            f"the CSV header must be {','.join(CSV_REQUIRED)} followed by the optional columns "
            f"{', '.join(CSV_OPTIONAL)}, in this order"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    reader.fieldnames = columns
    records = [(reader.line_num, record) for record in reader]  # line_num: the line the record ends on
    _check_count(len(records))
    yield from records


def _csv_store(record: dict[str, str | None]) -> Any:
    if None in record:
        return ValueError("more fields than columns")
    try:
        lon, lat = float(record["lon"] or "nan"), float(record["lat"] or "nan")
    except ValueError:
        return ValueError("lon and lat must be numbers")
    body: dict[str, Any] = {
        "name": record["name"],
        "address": record["address"],
        "location": {"type": "Point", "coordinates": [lon, lat]},
    }
    if record.get("timezone"):
        body["timezone"] = record["timezone"]
    if record.get("categories"):
        body["categories"] = [c.strip() for c in (record["categories"] or "").split(";") if c.strip()]
    return body


def _check_count(count: int) -> None:
    if count > MAX_ROWS:
        raise InvalidInput(f"an import holds at most {MAX_ROWS} stores; this one has {count}")
    if count == 0:
        raise InvalidInput("the file holds no stores")


def candidates(data: bytes, kind: str) -> Iterator[tuple[int, Any]]:
    """(row number, store body or ValueError) for each row of a ``geojson`` or ``csv`` file."""
    if kind == "geojson":
        yield from _features(data)
        return
    if kind != "csv":
        raise InvalidInput("imports are GeoJSON (application/geo+json, application/json) or CSV (text/csv)")
    for number, record in _rows(data):
        yield number, _csv_store(record)


def validate(
    data: bytes, kind: str, progress: Progress | None = None
) -> tuple[list[dict[str, Any]], list[int], list[tuple[int, list[str]]]]:
    """Valid store values with their row numbers, and the failed rows with reasons."""
    valid: list[dict[str, Any]] = []
    numbers: list[int] = []
    failed: list[tuple[int, list[str]]] = []
    rows = list(candidates(data, kind))
    for checked, (number, body) in enumerate(rows):
        if progress is not None and checked % 500 == 0:
            progress(STAGE_CHECK, checked, len(rows))
        if isinstance(body, ValueError):
            failed.append((number, [str(body)]))
            continue
        try:
            store = StoreCreate.model_validate(body)
        except ValidationError as exc:
            failed.append((number, _messages(exc)))
            continue
        lon, lat = store.location.coordinates
        valid.append(
            {
                "name": store.name,
                "address": store.address,
                "lon": lon,
                "lat": lat,
                "timezone": store.timezone,
                "categories": list(store.categories),
            }
        )
        numbers.append(number)
    if progress is not None:
        progress(STAGE_CHECK, len(rows), len(rows))
    return valid, numbers, failed


def import_stores(
    session: Session,
    merchant_id: int,
    data: bytes,
    kind: str,
    now: datetime,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Validate every row and insert the valid ones in the caller's transaction (``progress`` hears of both)."""
    valid, _, failed = validate(data, kind, progress)
    total = len(valid)
    if progress is not None:
        progress(STAGE_INSERT, 0, total)
    rows = stores_repo.insert_stores(
        session, merchant_id, valid, now, None if progress is None else lambda done: progress(STAGE_INSERT, done, total)
    )
    return ImportOutcome([row.id for row in rows], failed)


def kind_of(content_type: str | None, filename: str | None = None) -> str:
    """``geojson`` or ``csv`` from a Content-Type (or a file name)."""
    if filename is not None:
        return "csv" if filename.lower().endswith(".csv") else "geojson"
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "text/csv":
        return "csv"
    if media in ("application/json", "application/geo+json"):
        return "geojson"
    raise UnsupportedMediaType("send application/geo+json (a FeatureCollection) or text/csv")
