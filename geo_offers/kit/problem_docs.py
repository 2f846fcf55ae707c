"""Human-readable pages behind the problem ``type`` URIs."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from consent.errors import DomainError, NotFound
from geo_offers.codes.errors import EXPLANATIONS as CODE_PROBLEMS
from geo_offers.places.deals import frequency

router = APIRouter(tags=["operations"])

_EXPLANATIONS = {
    "invalid-input": "The body, query or path does not match the schema or a rule; `errors` says where.",
    "unauthorized": "No API key, an unknown key or a revoked key. Send `Authorization: Bearer <key>`.",
    "forbidden": "The key is valid but its role may not use this route.",
    "consent-required": "The subject has no active, unexpired consent for the purpose this route needs.",
    "not-found": "No such object, or it belongs to someone else.",
    "conflict": "The request contradicts the current state (a duplicate, or not in the state it needs).",
    "payload-too-large": "The body is larger than this route accepts.",
    "rate-limited": "The key sent too many requests; wait for `Retry-After` seconds.",
    "service-unavailable": "A dependency (usually the database) is unavailable; retry after `Retry-After`.",
    "internal-error": "A bug. Nothing about it is sent to the client; operators see it in the logs.",
    frequency.PerPersonCapRefused.slug: frequency.EXPLANATION,
    **CODE_PROBLEMS,
}


class ProblemDoc(BaseModel):
    type: str
    explanation: str


def _all_slugs() -> set[str]:
    slugs: set[str] = set()
    stack: list[type[DomainError]] = [DomainError]
    while stack:
        cls = stack.pop()
        slugs.add(cls.slug)
        stack.extend(cls.__subclasses__())
    return slugs


@router.get("/problems/{slug}", summary="What a problem type means")
async def problem_doc(slug: str) -> ProblemDoc:
    """The explanation of one problem type."""
    if slug not in _EXPLANATIONS and slug not in _all_slugs():
        raise NotFound("no such problem type")
    return ProblemDoc(type=f"/problems/{slug}", explanation=_EXPLANATIONS.get(slug, "See the API documentation."))
