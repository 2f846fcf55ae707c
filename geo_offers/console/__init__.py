"""The web console for stores and data-protection officers, served by the service under ``/console``.

Server-rendered pages (Jinja2 templates, a little plain JavaScript for the map and the week grid, Leaflet
vendored from npm) that sign in with an API key once and then call the service's own API in-process with it
(``api``), so the console obeys exactly the rules of the API. Everything the pages load comes from the service.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import Response

from geo_offers.console import deal_pages, insight_pages, ledger, merchant, reports, signin
from geo_offers.console.context import Refused, SignInRequired, redirect, services_of
from geo_offers.console.web import render

IMPORT_PATH = "/console/stores/import"


def install(app: FastAPI) -> None:
    """Mount the console: static assets first, the pages, and the answers to its two own exceptions."""
    app.mount("/console/static", StaticFiles(packages=[("geo_offers.console", "static")]), name="console-static")
    # The catch-all "no such page" route is in signin's router, so it goes last.
    for module in (merchant, deal_pages, insight_pages, ledger, reports, signin):
        app.include_router(module.router, include_in_schema=False)

    async def to_sign_in(_: Request, error: Exception) -> Response:
        reason = error.reason if isinstance(error, SignInRequired) else ""
        return redirect(f"/console/sign-in?reason={reason}" if reason else "/console/sign-in")

    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, Refused)
        if error.visit is not None:
            return error.visit.problem_page(error.problem)
        settings = services_of(request).settings
        return render(request, settings, "problem.html", {"problem": error.problem}, status=error.problem.status)

    app.add_exception_handler(SignInRequired, to_sign_in)
    app.add_exception_handler(Refused, refused)
