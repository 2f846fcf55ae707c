"""Insight pages (merchant key): a deal's figures per day and their growth, and when people near a store are
active, with the suggested windows; every figure as the API published it, suppressed ones marked as such."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from geo_offers.console import charts
from geo_offers.console.context import visit
from geo_offers.console.merchant import every

router = APIRouter(prefix="/console")
TYPES = ("served", "impression", "click", "redeem")
DAY_CHOICES = (7, 14, 28, 56)
RESOLUTIONS = (6, 5, 4)


@router.get("/insights")
async def insights_index(request: Request) -> Response:
    """Choose a store (activity and suggested hours) or a deal (its figures)."""
    current = await visit(request, "merchant")
    stores, problem, _ = await every(current, "/v1/stores")
    deals, deal_problem, _ = await every(current, "/v1/deals") if problem is None else ([], None, False)
    if problem or deal_problem:
        return current.problem_page(problem or deal_problem)  # type: ignore[arg-type]
    return current.page("insights_index.html", {"stores": stores, "deals": deals})


def _hour_pairs(hours: list[dict[str, Any]], key: str) -> list[tuple[int, int | None]]:
    pairs: list[tuple[int, int | None]] = []
    for row in hours:
        figure = row[key] if key == "requests" else row["counts"][key]
        pairs.append((row["hour_of_week"], None if figure["suppressed"] else int(figure["count"])))
    return pairs


@router.get("/insights/deals/{deal_id}")
async def deal_insights(request: Request, deal_id: int) -> Response:
    """A deal's served, impression, click and redeem figures per day, week over week, and per hour of week."""
    current = await visit(request, "merchant")
    days = request.query_params.get("days", "28")
    answer = await current.get(f"/v1/insights/deals/{deal_id}", {"days": days})
    if not answer.ok:
        return current.problem_page(answer.problem)
    report = answer.body
    deal = await current.get(f"/v1/deals/{deal_id}")
    title = deal.body["title"] if deal.ok else f"#{deal_id}"
    day_charts = {name: charts.bar_chart(charts.type_series(report["days"], name)) for name in TYPES}
    heat = charts.heat_rows(_hour_pairs(report["hours_of_week"]["hours"], "served"))
    return current.page(
        "insights_deal.html",
        {
            "report": report,
            "title": title,
            "types": TYPES,
            "day_charts": day_charts,
            "heat": heat,
            "days_choice": DAY_CHOICES,
            "days": days,
        },
    )


@router.get("/insights/stores/{store_id}")
async def store_insights(request: Request, store_id: int) -> Response:
    """When consenting people near a store ask for offers (hour-of-week heat map) and the suggested windows."""
    current = await visit(request, "merchant")
    resolution = request.query_params.get("resolution", "6")
    store = await current.get(f"/v1/stores/{store_id}")
    if not store.ok:
        return current.problem_page(store.problem)
    # One call: the suggestion carries the published figures it rests on, so the page spends one release.
    answer = await current.get(
        f"/v1/insights/stores/{store_id}/suggested-windows", {"resolution": resolution, "limit": 3}
    )
    if not answer.ok:
        return current.problem_page(answer.problem)
    suggestion = answer.body
    heat = charts.heat_rows(_hour_pairs(suggestion["rests_on"]["hours"], "requests"))
    return current.page(
        "insights_store.html",
        {
            "store": store.body,
            "suggestion": suggestion,
            "heat": heat,
            "resolutions": RESOLUTIONS,
            "resolution": resolution,
        },
    )
