"""Creating and editing a deal (merchant key): drawn or typed area, week grid, errors at their fields."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from geo_offers.console import deal_fields
from geo_offers.console.context import Visit, redirect, visit
from geo_offers.console.deal_fields import DealForm, Errors
from geo_offers.console.mapdata import map_data
from geo_offers.console.merchant import every
from geo_offers.places.categories import CATEGORIES
from geo_offers.places.schedule import DAYS

router = APIRouter(prefix="/console")


def _zone(stores: list[dict[str, Any]], store_id: str) -> str:
    for store in stores:
        if str(store["id"]) == store_id:
            return str(store["timezone"])
    return stores[0]["timezone"] if stores else "UTC"


async def _show(
    current: Visit,
    stores: list[dict[str, Any]],
    form: DealForm,
    errors: Errors,
    *,
    deal: dict[str, Any] | None,
    status: int = 200,
    note: str = "",
) -> Response:
    shown = [deal] if deal is not None else []
    data = await run_in_threadpool(map_data, stores, shown, current.services.settings.index_res)
    return current.page(
        "deal_form.html",
        {
            "form": form,
            "errors": errors,
            "deal": deal,
            "stores": stores,
            "categories": CATEGORIES,
            "days": DAYS,
            "zone": _zone(stores, form.store_id),
            "map": data,
            "note": note,
            "tiles": current.services.settings.console_tile_url,
            "tile_attribution": current.services.settings.console_tile_attribution,
        },
        status=status,
    )


async def _suggested_grid(current: Visit, store_id: str) -> tuple[frozenset[deal_fields.Cell], str]:
    """The grid of a store's suggested windows (the suggestion route), and a note saying what it rests on."""
    answer = await current.get(f"/v1/insights/stores/{store_id}/suggested-windows")
    if not answer.ok:
        return frozenset(), answer.problem.detail
    windows = [w for suggestion in answer.body["windows"] for w in suggestion["windows"]]
    if not windows:
        return frozenset(), current.t("suggest.none")
    grid, _ = deal_fields.windows_grid(windows)
    return grid, current.t("suggest.used", confidence=current.t(f"confidence.{answer.body['confidence']}"))


@router.get("/deals/new")
async def new_deal(request: Request) -> Response:
    """An empty deal form (for a store given as ``store_id``; ``suggest=1`` fills in the suggested hours)."""
    current = await visit(request, "merchant")
    stores, problem, _ = await every(current, "/v1/stores")
    if problem is not None:
        return current.problem_page(problem)
    wanted = request.query_params.get("store_id") or (str(stores[0]["id"]) if stores else "")
    form = deal_fields.new_form(wanted, _zone(stores, wanted), current.services.clock())
    note = ""
    if request.query_params.get("suggest") == "1" and wanted:
        grid, note = await _suggested_grid(current, wanted)
        form = DealForm(**{**form.__dict__, "grid": grid})
    return await _show(current, stores, form, Errors(), deal=None, note=note)


@router.post("/deals/new")
async def create_deal(request: Request) -> Response:
    """Create the deal through the API; on errors show the form again with each error at its field."""
    return await _save(request, None)


@router.get("/deals/{deal_id}/edit")
async def edit_deal(request: Request, deal_id: int) -> Response:
    """A deal's form, filled in."""
    current = await visit(request, "merchant")
    answer = await current.get(f"/v1/deals/{deal_id}")
    if not answer.ok:
        return current.problem_page(answer.problem)
    stores, problem, _ = await every(current, "/v1/stores")
    if problem is not None:
        return current.problem_page(problem)
    deal = answer.body
    form = deal_fields.form_of_deal(deal, _zone(stores, str(deal["store_id"])))
    _, exact = deal_fields.windows_grid(deal["windows"])
    note = "" if exact else current.t("deal.windows_minutes")
    return await _show(current, stores, form, Errors(), deal=deal, note=note)


@router.post("/deals/{deal_id}/edit")
async def update_deal(request: Request, deal_id: int) -> Response:
    """Save a changed deal through the API (PATCH)."""
    return await _save(request, deal_id)


async def _save(request: Request, deal_id: int | None) -> Response:
    current = await visit(request, "merchant")
    posted = await current.form()
    boxes = [str(v) for v in posted.getlist("hours")]
    form = deal_fields.read_form({k: str(v) for k, v in posted.items() if isinstance(v, str)}, boxes)
    stores, problem, _ = await every(current, "/v1/stores")
    if problem is not None:
        return current.problem_page(problem)
    deal: dict[str, Any] | None = None
    if deal_id is not None:
        found = await current.get(f"/v1/deals/{deal_id}")
        if not found.ok:
            return current.problem_page(found.problem)
        deal = found.body
    errors = Errors()
    body = deal_fields.api_body(
        form, _zone(stores, form.store_id), editing=deal_id is not None, errors=errors, t=current.t
    )
    if errors:
        return await _show(current, stores, form, errors, deal=deal, status=422)
    if deal_id is None:
        answer = await current.send("POST", "/v1/deals", body)
    else:
        answer = await current.send("PATCH", f"/v1/deals/{deal_id}", body)
    if not answer.ok:
        placed = deal_fields.place_errors(answer.problem, form.area_kind)
        return await _show(current, stores, form, placed, deal=deal, status=answer.status)
    saved = answer.body
    done = "created" if deal_id is None else "saved"
    if deal_id is None and saved["status"] == "active":
        done = "published"
    return redirect(f"/console/stores?done={done}#deal-{saved['id']}")
