"""Ledger pages (dpo key, read only): events by filter and page, a subject's events, exports, the live check.

A subject id is personal data: it is only ever posted (never put in a URL, where it would stay in the history
and in logs) and the API turns it into the pseudonym on the server.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from geo_offers.console.api import Problem
from geo_offers.console.context import SignInRequired, Visit, visit

router = APIRouter(prefix="/console")
EVENT_TYPES = ("grant", "decline", "withdraw", "expire", "erase")
PAGE_SIZES = (25, 50, 100, 250)
EXPORT_PATH = "/v1/audit/consent-events/export"
FILTERS = ("since", "until", "purpose", "notice_version")


def export_formats(request: Request) -> list[str]:
    """The export formats the API's OpenAPI document offers (``dpv`` appears there once the route has it)."""
    schema = request.app.openapi()
    operation = schema.get("paths", {}).get(EXPORT_PATH, {}).get("get", {})
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "format":
            text = orjson.dumps(parameter.get("schema", {})).decode()
            return [name for name in ("csv", "jsonl", "dpv") if f'"{name}"' in text]
    return ["csv", "jsonl"]


def utc_input(text: str) -> str:
    """A ``datetime-local`` value read as UTC (the ledger's own time), with the offset the API wants."""
    return f"{text}:00Z" if len(text) == 16 else text


def filter_params(values: Any) -> list[tuple[str, Any]]:
    """API query parameters of the filter form (repeatable ``type``; times read as UTC)."""
    params: list[tuple[str, Any]] = []
    for name in FILTERS:
        value = str(values.get(name, "") or "").strip()
        if value:
            params.append((name, utc_input(value) if name in ("since", "until") else value))
    for kind in values.getlist("type"):
        if kind in EVENT_TYPES:
            params.append(("type", kind))
    return params


def field_errors(problem: Problem | None) -> dict[str, list[str]]:
    """Errors of query parameters or form fields, by name (the API's ``errors[].loc``)."""
    placed: dict[str, list[str]] = {}
    for error in problem.errors if problem else []:
        loc = [str(part) for part in error.get("loc", [])]
        if len(loc) > 1:
            placed.setdefault(loc[1], []).append(str(error.get("msg", "")))
    return placed


async def _purposes(current: Visit) -> list[str]:
    notice = await current.get("/v1/notices/current")
    if not notice.ok:
        return []
    return [str(p["id"]) for p in notice.body.get("purposes", [])]


def _limit(value: str) -> int:
    return int(value) if value.isdigit() and int(value) in PAGE_SIZES else PAGE_SIZES[1]


@router.get("/ledger")
async def ledger_page(request: Request) -> Response:
    """The consent ledger, filtered and paged."""
    current = await visit(request, "dpo")
    query = request.query_params
    params = filter_params(query)
    limit = _limit(query.get("limit", ""))
    after = query.get("after", "0")
    answer = await current.get("/v1/audit/consent-events", [*params, ("after", after), ("limit", limit)])
    problem = None if answer.ok else answer.problem
    return current.page(
        "ledger.html",
        {
            "page": answer.body if answer.ok else {"items": [], "next_after": None},
            "problem": problem,
            "field_errors": field_errors(problem),
            "values": {name: query.get(name, "") for name in FILTERS},
            "types": query.getlist("type"),
            "event_types": EVENT_TYPES,
            "purposes": await _purposes(current),
            "limit": limit,
            "page_sizes": PAGE_SIZES,
            "after": after,
            "export_query": params,
            "formats": export_formats(request),
        },
        status=answer.status if not answer.ok else 200,
    )


async def _export(current: Visit, params: list[tuple[str, Any]], fmt: str) -> Response:
    streamed = await current.api.stream("GET", EXPORT_PATH, [*params, ("format", fmt)])
    if streamed.status != 200:
        body = b"".join([chunk async for chunk in streamed.chunks])
        if streamed.status == 401:
            raise SignInRequired("expired")
        return current.problem_page(Problem.of(streamed.status, orjson.loads(body) if body else None))
    headers = {"Cache-Control": "no-store"}
    if "content-disposition" in streamed.headers:
        headers["Content-Disposition"] = streamed.headers["content-disposition"]
    return StreamingResponse(streamed.chunks, media_type=streamed.headers.get("content-type"), headers=headers)


@router.get("/ledger/export")
async def export(request: Request) -> Response:
    """The filtered ledger as a download, streamed from the export route."""
    current = await visit(request, "dpo")
    return await _export(current, filter_params(request.query_params), request.query_params.get("format", "jsonl"))


@router.get("/subject")
async def subject_form(request: Request) -> Response:
    """The subject lookup form."""
    current = await visit(request, "dpo")
    return current.page("subject.html", {"page": None, "subject": "", "formats": export_formats(request)})


@router.post("/subject")
async def subject_lookup(request: Request) -> Response:
    """A subject's events (the id is posted; the API turns it into the pseudonym), or its export."""
    current = await visit(request, "dpo")
    form = await current.form()
    subject = str(form.get("subject", "")).strip()
    fmt = str(form.get("format", ""))
    if fmt:
        return await _export(current, [("subject", subject)], fmt)
    after = str(form.get("after", "0"))
    answer = await current.get("/v1/audit/consent-events", [("subject", subject), ("after", after), ("limit", 100)])
    problem = None if answer.ok else answer.problem
    return current.page(
        "subject.html",
        {
            "page": answer.body if answer.ok else None,
            "problem": problem,
            "field_errors": field_errors(problem),
            "subject": subject,
            "formats": export_formats(request),
        },
        status=answer.status if not answer.ok else 200,
    )


@router.get("/verify")
async def verify_page(request: Request) -> Response:
    """The signed checkpoints, and with ``run=1`` the live check of the whole chain against them."""
    current = await visit(request, "dpo")
    result = None
    if request.query_params.get("run") == "1":
        answer = await current.get("/v1/audit/ledger/verify")
        if not answer.ok:
            return current.problem_page(answer.problem)
        result = answer.body
    checkpoints = await current.get("/v1/audit/ledger/checkpoints", {"limit": 100})
    if not checkpoints.ok:
        return current.problem_page(checkpoints.problem)
    return current.page("verify.html", {"result": result, "checkpoints": checkpoints.body})
