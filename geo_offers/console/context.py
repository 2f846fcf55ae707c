"""What every console request needs: the signed-in person (from the session cookie), their API client, CSRF
checks on writes, and pages for problems."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from geo_offers.console import sessions
from geo_offers.console.api import Answer, Api, Params, Problem
from geo_offers.console.web import language, render, translator
from geo_offers.services import Services

HOME = {"merchant": "/console/stores", "dpo": "/console/ledger"}


class SignInRequired(Exception):
    """No live session: the person is sent to the sign-in page (with the reason, when there is one)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class Refused(Exception):
    """A request the console refuses itself (wrong role, failed CSRF check): shown as a problem page, with the
    console's navigation when the person is signed in."""

    def __init__(self, problem: Problem, visit: Visit | None = None) -> None:
        super().__init__(problem.title)
        self.problem = problem
        self.visit = visit


def services_of(request: Request) -> Services:
    """The per-process services of the app."""
    found: Services = request.app.state.services
    return found


def lifetimes(services: Services) -> sessions.Lifetimes:
    """Session lifetimes from the settings."""
    settings = services.settings
    return sessions.Lifetimes(
        absolute=timedelta(hours=settings.console_session_hours),
        idle=timedelta(minutes=settings.console_idle_minutes),
    )


def same_origin(request: Request) -> bool:
    """Whether a write comes from a console page (defence in depth beside the CSRF token and SameSite=Strict).

    Browsers that send ``Sec-Fetch-Site`` say so directly; otherwise the ``Origin`` header must name this host.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.url.netloc


@dataclass
class Visit:
    """One request of a signed-in person."""

    request: Request
    services: Services
    who: sessions.SignedIn
    token: str

    @property
    def api(self) -> Api:
        return Api(self.request, self.who.api_key)

    def t(self, key: str, **values: Any) -> str:
        """A message in the visitor's language."""
        return translator(language(self.request))(key, **values)

    def page(self, template: str, context: Mapping[str, Any], *, status: int = 200) -> HTMLResponse:
        """A page of the signed-in console."""
        values = {"signed_in": self.who, "csrf": self.who.csrf, **context}
        return render(self.request, self.services.settings, template, values, status=status)

    def problem_page(self, problem: Problem) -> HTMLResponse:
        """The problem's title and detail as a page, with the problem's status."""
        return self.page("problem.html", {"problem": problem}, status=problem.status)

    async def checked(self, answer: Answer) -> Answer:
        """The answer, unless the key stopped working (revoked): then the session ends and sign-in follows."""
        if answer.status == 401:
            await run_in_threadpool(_close, self.services, self.token)
            raise SignInRequired("expired")
        return answer

    async def get(self, path: str, params: Params | None = None) -> Answer:
        """GET from the API as the signed-in key."""
        return await self.checked(await self.api.get(path, params))

    async def send(self, method: str, path: str, payload: Any) -> Answer:
        """A JSON write to the API as the signed-in key."""
        return await self.checked(await self.api.send_json(method, path, payload))

    async def form(self) -> FormData:
        """The posted form, after the CSRF and origin checks (a failure is a 403 page, nothing is written)."""
        data = await self.request.form()
        presented = data.get("csrf_token")
        if not same_origin(self.request) or not sessions.csrf_matches(
            self.token, presented if isinstance(presented, str) else None
        ):
            raise Refused(Problem(403, self.t("csrf.title"), self.t("csrf.detail")), self)
        return data


def _close(services: Services, token: str) -> None:
    with services.db.transaction() as session:
        sessions.close_session(session, token)


def _load(services: Services, token: str) -> sessions.SignedIn | None:
    with services.db.transaction() as session:
        return sessions.load_session(session, token, services.clock(), lifetimes(services))


async def visit(request: Request, role: str | None = None) -> Visit:
    """The signed-in visitor of this request (SignInRequired otherwise); with ``role``, only that role's."""
    services = services_of(request)
    token = request.cookies.get(sessions.COOKIE, "")
    who = await run_in_threadpool(_load, services, token) if sessions.well_formed(token) else None
    if who is None:
        raise SignInRequired("expired" if token else "")
    current = Visit(request, services, who, token)
    if role is not None and who.role != role:
        raise Refused(Problem(403, current.t("role.title"), current.t(f"role.needs_{role}")), current)
    return current


def redirect(url: str) -> Response:
    """See other: the answer to a successful form post (so reloading the page does not post again)."""
    return RedirectResponse(url, status_code=303)
