"""Store pages (merchant key): the map of stores, deal areas and coverage cells, deal actions, store import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from geo_offers.console.api import Problem
from geo_offers.console.context import Visit, redirect, visit
from geo_offers.console.mapdata import map_data
from geo_offers.places.schedule import DAYS

router = APIRouter(prefix="/console")
PAGE = 500
MAX_PAGES = 20
STATUS_ACTIONS = {"active", "paused", "ended"}
IMPORT_TYPES = {".csv": "text/csv", ".geojson": "application/geo+json", ".json": "application/geo+json"}


async def every(current: Visit, path: str, **params: Any) -> tuple[list[dict[str, Any]], Problem | None, bool]:
    """All items of a paged listing (up to MAX_PAGES pages), the problem if one page failed, and whether more
    exist than were read."""
    items: list[dict[str, Any]] = []
    after = 0
    for _ in range(MAX_PAGES):
        answer = await current.get(path, {**params, "after": after, "limit": PAGE})
        if not answer.ok:
            return items, answer.problem, False
        items.extend(answer.body["items"])
        if answer.body.get("next_after") is None:
            return items, None, False
        after = answer.body["next_after"]
    return items, None, True


def windows_text(windows: list[dict[str, Any]], t: Callable[..., str]) -> str:
    """A deal's windows in words, such as "Mon, Tue 17:00-20:00"."""
    if not windows:
        return t("deal.always")
    parts = []
    for window in windows:
        days = ", ".join(t(f"day.{d}") for d in window["days"] if d in DAYS)
        parts.append(f"{days} {window['start']}–{window['end']}")
    return "; ".join(parts)


@router.get("/stores")
async def stores_page(request: Request) -> Response:
    """The map and the lists of stores and deals, with the deal actions."""
    current = await visit(request, "merchant")
    stores, problem, more_stores = await every(current, "/v1/stores")
    deals, deal_problem, more_deals = await every(current, "/v1/deals") if problem is None else ([], None, False)
    problem = problem or deal_problem
    if problem is not None:
        return current.problem_page(problem)
    data = await run_in_threadpool(map_data, stores, deals, current.services.settings.index_res)
    names = {s["id"]: s["name"] for s in stores}
    return current.page(
        "stores.html",
        {
            "stores": stores,
            "deals": deals,
            "store_names": names,
            "map": data,
            "more": more_stores or more_deals,
            "done": request.query_params.get("done", ""),
            "windows_text": lambda w: windows_text(w, current.t),
            "tiles": current.services.settings.console_tile_url,
            "tile_attribution": current.services.settings.console_tile_attribution,
        },
    )


@router.post("/deals/{deal_id}/status")
async def change_status(request: Request, deal_id: int) -> Response:
    """Publish, pause or end a deal (a PATCH of its status through the API)."""
    current = await visit(request, "merchant")
    form = await current.form()
    status = str(form.get("status", ""))
    if status not in STATUS_ACTIONS:
        return current.problem_page(Problem(422, current.t("problem.invalid"), current.t("deal.bad_status")))
    answer = await current.send("PATCH", f"/v1/deals/{deal_id}", {"status": status})
    if not answer.ok:
        return current.problem_page(answer.problem)
    return redirect(f"/console/stores?done={status}#deal-{deal_id}")


@router.get("/stores/import")
async def import_form(request: Request) -> Response:
    """The store import form."""
    current = await visit(request, "merchant")
    return current.page("import.html", {"result": None, "file_error": ""})


@router.post("/stores/import")
async def import_stores(request: Request) -> Response:
    """Send a CSV or GeoJSON file to the import route and show its per-row results."""
    current = await visit(request, "merchant")
    form = await current.form()
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return current.page("import.html", {"result": None, "file_error": current.t("import.no_file")}, status=422)
        filename = upload.filename
        suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        content_type = IMPORT_TYPES.get(suffix)
        if content_type is None:
            return current.page("import.html", {"result": None, "file_error": current.t("import.bad_type")}, status=422)
        data = await upload.read()
    finally:
        await form.close()  # the upload's spooled temporary file
    answer = await current.checked(
        await current.api.call("POST", "/v1/stores/import", body=data, content_type=content_type)
    )
    if not answer.ok:
        problem = answer.problem
        return current.page(
            "import.html", {"result": None, "file_error": "", "problem": problem}, status=problem.status
        )
    return current.page("import.html", {"result": answer.body, "file_error": "", "filename": filename})
