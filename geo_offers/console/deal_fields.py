"""The deal form: its fields as typed, the API body they make, the week grid, and errors placed at their fields.

The API validates; the console only turns form text into the API's JSON (times in the store's zone get their
offset, the week grid becomes windows) and places each error of the answer next to the field it concerns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from geo_offers.console.api import Problem
from geo_offers.places.schedule import DAYS, compile_windows

FIELDS = ("store_id", "title", "description", "category", "area", "valid_from", "valid_until", "windows")
FIELDS_ALL = (*FIELDS, "max_redemptions", "status")
AREA_WORDS = ("area", "polygon", "ring", "radius", "antimeridian", "position", "coordinates", "km²", "h3 cell", "pole")
Cell = tuple[int, int]  # (day 0 = Monday, hour)


@dataclass(frozen=True)
class DealForm:
    """The deal form's values as text, ready to show again."""

    store_id: str = ""
    title: str = ""
    description: str = ""
    category: str = "other"
    area_kind: str = "radius"
    radius_m: str = "500"
    polygon: str = ""
    valid_from: str = ""
    valid_until: str = ""
    max_redemptions: str = ""
    grid: frozenset[Cell] = frozenset()
    grid_before: str = ""  # the grid as first shown: unchanged means "keep the windows as they are"
    status: str = "draft"


@dataclass
class Errors:
    """Errors per field and errors of the whole form."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            self.general.append(message)
        else:
            self.fields.setdefault(name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)


def grid_key(grid: Iterable[Cell]) -> str:
    """A stable text form of a grid (for the hidden "as first shown" field)."""
    return ",".join(f"{d}-{h}" for d, h in sorted(grid))


def parse_grid(values: Iterable[str]) -> frozenset[Cell]:
    """Checked grid boxes (``"day-hour"``) as cells; anything malformed is ignored (it is not a box)."""
    cells: set[Cell] = set()
    for value in values:
        day, _, hour = value.partition("-")
        if day.isdigit() and hour.isdigit() and int(day) < 7 and int(hour) < 24:
            cells.add((int(day), int(hour)))
    return frozenset(cells)


def grid_windows(grid: Iterable[Cell]) -> list[dict[str, Any]]:
    """Deal windows for checked hours: each day's runs, days with the same run grouped into one window."""
    runs: dict[tuple[str, str], list[str]] = {}
    by_day: dict[int, list[int]] = {}
    for day, hour in sorted(grid):
        by_day.setdefault(day, []).append(hour)
    for day, hours in by_day.items():
        start = previous = hours[0]
        for hour in [*hours[1:], -1]:  # -1 ends the last run
            if hour == previous + 1:
                previous = hour
                continue
            end = "24:00" if previous == 23 else f"{previous + 1:02d}:00"
            runs.setdefault((f"{start:02d}:00", end), []).append(DAYS[day])
            start = previous = hour
    return [{"days": days, "start": start, "end": end} for (start, end), days in sorted(runs.items())]


def windows_grid(windows: Iterable[Mapping[str, Any]]) -> tuple[frozenset[Cell], bool]:
    """The hours a deal's windows touch, and whether the grid shows them exactly (no minutes)."""
    schedule = compile_windows(windows)
    cells: set[Cell] = set()
    for start, end in zip(schedule.starts, schedule.ends, strict=True):
        for slot in range(start // 3600, -(-end // 3600)):
            cells.add((slot // 24 % 7, slot % 24))
    exact = compile_windows(grid_windows(cells)) == schedule
    return frozenset(cells), exact


def local_input(moment: datetime, tz: str) -> str:
    """A time as a ``datetime-local`` input shows it, in the store's zone."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def _with_offset(text: str, tz: str) -> str:
    # datetime-local gives wall time without offset; the store's zone supplies it. Anything else goes to the
    # API as typed, which then says what is wrong with it.
    try:
        wall = datetime.fromisoformat(text)
    except ValueError:
        return text
    if wall.tzinfo is None:
        wall = wall.replace(tzinfo=ZoneInfo(tz))
    return wall.isoformat()


def _number(text: str) -> Any:
    stripped = text.strip()
    return int(stripped) if stripped.lstrip("-").isdigit() else stripped


def new_form(store_id: str, tz: str, now: datetime) -> DealForm:
    """An empty form: valid from the start of this hour (so it is live once published) for four weeks."""
    start = now.replace(minute=0, second=0, microsecond=0)
    return DealForm(
        store_id=store_id, valid_from=local_input(start, tz), valid_until=local_input(start + timedelta(days=28), tz)
    )


def form_of_deal(deal: Mapping[str, Any], tz: str) -> DealForm:
    """The form of an existing deal."""
    grid, _ = windows_grid(deal["windows"])
    area = deal["area"]
    radius = "radius_m" in area
    return DealForm(
        store_id=str(deal["store_id"]),
        title=deal["title"],
        description=deal["description"],
        category=deal["category"],
        area_kind="radius" if radius else "polygon",
        radius_m=str(area["radius_m"]) if radius else "",
        polygon="" if radius else json.dumps(area),
        valid_from=local_input(datetime.fromisoformat(deal["valid_from"]), tz),
        valid_until=local_input(datetime.fromisoformat(deal["valid_until"]), tz),
        max_redemptions="" if deal["max_redemptions"] is None else str(deal["max_redemptions"]),
        grid=grid,
        grid_before=grid_key(grid),
        status=deal["status"],
    )


def read_form(data: Mapping[str, str], boxes: list[str]) -> DealForm:
    """The form's values from a post."""
    names = [name for name in DealForm.__dataclass_fields__ if name != "grid"]
    return DealForm(**{name: str(data.get(name, "")).strip() for name in names}, grid=parse_grid(boxes))


def _polygon(text: str) -> Any:
    geometry = json.loads(text)
    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    return geometry


def api_body(form: DealForm, tz: str, *, editing: bool, errors: Errors, t: Callable[..., str]) -> dict[str, Any]:
    """The API body of a form (on an edit, windows only when the grid changed). Adds errors it finds itself."""
    body: dict[str, Any] = {
        "store_id": _number(form.store_id),
        "title": form.title,
        "description": form.description,
        "category": form.category,
        "valid_from": _with_offset(form.valid_from, tz),
        "valid_until": _with_offset(form.valid_until, tz),
        "max_redemptions": _number(form.max_redemptions) if form.max_redemptions else None,
    }
    if form.area_kind == "polygon":
        try:
            body["area"] = _polygon(form.polygon)
        except json.JSONDecodeError as exc:
            errors.add("area", t("deal.polygon_not_json", reason=exc.msg))
    else:
        body["area"] = {"radius_m": _number(form.radius_m)}
    if not editing or grid_key(form.grid) != form.grid_before:
        body["windows"] = grid_windows(form.grid)
    if not editing:
        body["status"] = form.status if form.status in ("draft", "active") else "draft"
    return body


def place_errors(problem: Problem, area_kind: str) -> Errors:
    """The problem's errors at the fields they concern; what concerns no field stays general."""
    placed = Errors()
    other_kind = "GeoJSONArea" if area_kind == "radius" else "RadiusArea"
    for error in problem.errors:
        loc = [str(part) for part in error.get("loc", [])]
        message = str(error.get("msg", ""))
        if any(other_kind in part for part in loc):
            continue  # the union's other member: not what the person chose
        name = loc[1] if len(loc) > 1 and loc[0] == "body" and loc[1] in FIELDS_ALL else None
        if name is None and "valid_until" in message:
            name = "valid_until"
        # Where inside the field, without the union member's internal name: "radius_m", "0.start", ...
        inner = [part for part in loc[2:] if "[" not in part and not part.endswith("Area")]
        placed.add(name, f"{'.'.join(inner)}: {message}" if name and inner else message)
    if not problem.errors:
        detail = problem.detail
        lowered = detail.lower()
        if "store" in lowered and problem.status == 404:
            placed.add("store_id", detail)
        elif "valid_until" in lowered:
            placed.add("valid_until", detail)
        elif any(word in lowered for word in AREA_WORDS):
            placed.add("area", detail)
        else:
            placed.add(None, detail)
    return placed
