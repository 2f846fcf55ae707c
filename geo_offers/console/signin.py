"""Signing in and out, the language switch, and pages for what is not there.

The API key is typed once into a posted form. It is checked like any API request's key, sealed into a session
row (see ``sessions``) and never sent back: not in a page, a URL, a cookie or a log. The sign-in form has its
own CSRF token (a random value in a short-lived cookie that the form must repeat), so no other site can sign
a browser in under a key of its choosing.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from consent.errors import Unauthorized
from geo_offers.console import sessions
from geo_offers.console.api import Problem
from geo_offers.console.context import HOME, SignInRequired, lifetimes, redirect, same_origin, services_of, visit
from geo_offers.console.web import LANG_COOKIE, LANGUAGES, language, render, translator
from geo_offers.services import Services
from geo_offers.tenants.auth import Principal

router = APIRouter(prefix="/console")
PRE_COOKIE = "geo_console_signin"
PRE_COOKIE_S = 3600
REASONS = ("expired", "signed_out")


def secure_cookies(request: Request) -> bool:
    """Cookies are Secure over HTTPS and always in production (which runs behind TLS)."""
    return request.url.scheme == "https" or services_of(request).settings.environment == "production"


def _form(request: Request, *, problem: Problem | None = None, status: int = 200) -> HTMLResponse:
    services = services_of(request)
    reason = request.query_params.get("reason", "")
    nonce = secrets.token_urlsafe(24)
    page = render(
        request,
        services.settings,
        "sign_in.html",
        {"nonce": nonce, "problem": problem, "reason": reason if reason in REASONS else ""},
        status=status,
    )
    page.set_cookie(
        PRE_COOKIE,
        nonce,
        max_age=PRE_COOKIE_S,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )
    return page


@router.get("")
async def home(request: Request) -> Response:
    """The signed-in person's first page, or the sign-in page."""
    current = await visit(request)
    return redirect(HOME[current.who.role])


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    """The sign-in form."""
    return _form(request)


def _open(services: Services, principal: Principal, api_key: str) -> str:
    with services.db.transaction() as session:
        return sessions.open_session(session, principal, api_key, services.clock(), lifetimes(services))


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Check the key, open a session, and set its cookie."""
    services = services_of(request)
    t = translator(language(request))
    form = await request.form()
    nonce = request.cookies.get(PRE_COOKIE, "")
    presented = str(form.get("csrf_token", ""))
    if not same_origin(request) or not nonce or not hmac.compare_digest(nonce.encode(), presented.encode()):
        return _form(request, problem=Problem(403, t("csrf.title"), t("csrf.detail")), status=403)
    api_key = str(form.get("api_key", "")).strip()
    try:
        principal = await services.keys.authenticate(api_key)
    except Unauthorized:
        return _form(request, problem=Problem(401, t("signin.bad_key_title"), t("signin.bad_key")), status=401)
    if principal.role not in HOME:
        return _form(request, problem=Problem(403, t("signin.bad_role_title"), t("signin.bad_role")), status=403)
    services.limiter.hit(principal.key_id)
    token = await run_in_threadpool(_open, services, principal, api_key)
    response = redirect(HOME[principal.role])
    response.set_cookie(
        sessions.COOKIE,
        token,
        max_age=int(lifetimes(services).absolute.total_seconds()),
        path="/console",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )
    response.delete_cookie(PRE_COOKIE, path="/console", httponly=True, samesite="strict")
    return response


def _close(services: Services, token: str) -> None:
    with services.db.transaction() as session:
        sessions.close_session(session, token)


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """End the session everywhere (its row is deleted) and forget the cookie."""
    current = await visit(request)
    await current.form()
    await run_in_threadpool(_close, current.services, current.token)
    response = redirect("/console/sign-in?reason=signed_out")
    response.delete_cookie(sessions.COOKIE, path="/console", httponly=True, samesite="strict")
    return response


@router.get("/language/{lang}")
async def choose_language(request: Request, lang: str) -> Response:
    """Remember a language and go back to the page it was chosen on."""
    target = request.query_params.get("next", "/console")
    if not target.startswith("/console") or "//" in target or "\\" in target:
        target = "/console"
    response = redirect(target)
    if lang in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 86400, path="/console", samesite="strict", secure=secure_cookies(request)
        )
    return response


@router.get("/{rest:path}", include_in_schema=False)
async def not_found(request: Request, rest: str) -> Response:
    """Any other console address: a page saying so (never a blank page, never JSON)."""
    t = translator(language(request))
    problem = Problem(404, t("problem.not_found"), t("problem.no_page"))
    try:
        current = await visit(request)
    except SignInRequired:
        return render(request, services_of(request).settings, "problem.html", {"problem": problem}, status=404)
    return current.problem_page(problem)
