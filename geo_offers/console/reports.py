"""Report pages (dpo key, read only): the daily summary as a chart, the Art. 30 record to print, the audit
access log and the privacy-budget log."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from geo_offers.console import charts
from geo_offers.console.context import visit
from geo_offers.console.ledger import PAGE_SIZES, field_errors, utc_input

router = APIRouter(prefix="/console")
#: The summary's counts of a day, by the names the summary route gives them.
SUMMARY_KINDS = ("grants", "declines", "withdrawals", "expiries", "erasures")


@router.get("/summary")
async def summary_page(request: Request) -> Response:
    """Events per UTC day by type, as a stacked chart and a table, and active consents per purpose."""
    current = await visit(request, "dpo")
    query = request.query_params
    values = {"since": query.get("since", ""), "until": query.get("until", "")}
    answer = await current.get("/v1/audit/summary", values)
    if not answer.ok:
        problem = answer.problem
        context = {"summary": None, "chart": None, "values": values, "problem": problem}
        return current.page("summary.html", {**context, "field_errors": field_errors(problem)}, status=problem.status)
    summary = answer.body
    chart = charts.stacked_chart([(d["day"], d["events"]) for d in summary["days"]], SUMMARY_KINDS)
    purposes = sorted({p for d in summary["days"] for p in d["purposes"]})
    return current.page(
        "summary.html",
        {
            "summary": summary,
            "chart": chart,
            "values": values,
            "kinds": SUMMARY_KINDS,
            "purposes": purposes,
            "field_errors": {},
        },
    )


@router.get("/record")
async def record_page(request: Request) -> Response:
    """The GDPR Art. 30 record of processing, laid out for printing."""
    current = await visit(request, "dpo")
    answer = await current.get("/v1/audit/processing-record")
    if not answer.ok:
        return current.problem_page(answer.problem)
    return current.page("record.html", {"record": answer.body})


def _page_size(value: str) -> int:
    return int(value) if value.isdigit() and int(value) in PAGE_SIZES else PAGE_SIZES[1]


@router.get("/access-log")
async def access_log_page(request: Request) -> Response:
    """Who (which key) called which audit route, and when; filtered and paged."""
    current = await visit(request, "dpo")
    query = request.query_params
    values = {name: query.get(name, "") for name in ("since", "until", "key_id")}
    limit = _page_size(query.get("limit", ""))
    params = {
        "since": utc_input(values["since"]) if values["since"] else None,
        "until": utc_input(values["until"]) if values["until"] else None,
        "key_id": values["key_id"] or None,
        "after": query.get("after", "0"),
        "limit": limit,
    }
    answer = await current.get("/v1/audit/access-log", params)
    problem = None if answer.ok else answer.problem
    return current.page(
        "access_log.html",
        {
            "page": answer.body if answer.ok else {"items": [], "next_after": None},
            "problem": problem,
            "field_errors": field_errors(problem),
            "values": values,
            "limit": limit,
            "page_sizes": PAGE_SIZES,
            "after": query.get("after", "0"),
        },
        status=answer.status if problem else 200,
    )


@router.get("/budget")
async def budget_page(request: Request) -> Response:
    """Every insight release: which key, which figures, at which epsilon and k; by merchant, paged."""
    current = await visit(request, "dpo")
    query = request.query_params
    merchant = query.get("merchant_id", "")
    limit = _page_size(query.get("limit", ""))
    params = {"merchant_id": merchant or None, "after": query.get("after", "0"), "limit": limit}
    answer = await current.get("/v1/audit/privacy-budget", params)
    problem = None if answer.ok else answer.problem
    return current.page(
        "budget.html",
        {
            "page": answer.body if answer.ok else {"items": [], "next_after": None},
            "problem": problem,
            "field_errors": field_errors(problem),
            "merchant_id": merchant,
            "limit": limit,
            "page_sizes": PAGE_SIZES,
            "after": query.get("after", "0"),
        },
        status=answer.status if problem else 200,
    )
