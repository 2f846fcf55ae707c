"""Human-readable pages behind the problem ``type`` URIs."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from consent.errors import DomainError, NotFound
from geo_offers.codes.errors import EXPLANATIONS as CODE_PROBLEMS
from geo_offers.insights import live
from geo_offers.places.deals import frequency

router = APIRouter(tags=["operations"])

_EXPLANATIONS = {
    "malformed-json": "The body could not be read as JSON (a syntax error, or bytes that are not UTF-8). Nothing "
    "was checked beyond that.",
    "invalid-input": "The body, query or path breaks a rule of the OpenAPI document (a query parameter the "
    "operation does not list, or a single-valued one sent twice, included); `errors` says where.",
    "method-not-allowed": "The resource exists but does not take this method; `Allow` lists every one it takes.",
    "unsupported-media-type": "The body is in a media type the operation does not take, or has no Content-Type; "
    "the detail names the types it takes (application/json for every JSON body).",
    "unauthorized": "No API key, an unknown key or a revoked key. Send `Authorization: Bearer <key>`.",
    "forbidden": "The key is valid but its role may not use this route.",
    "consent-required": "The subject has no active, unexpired consent for the purpose this route needs.",
    "not-found": "No such object, or it belongs to someone else.",
    "conflict": "The request contradicts the current state (a duplicate, or not in the state it needs).",
    "notice-outdated": "The decision names a notice version that is not the current one; `current_version` says "
    "which is, and the person is to be shown that one.",
    "consent-not-active": "There is no active consent for these purposes to withdraw.",
    "payload-too-large": "The body is larger than this route accepts.",
    "rate-limited": "The key sent too many requests; wait for `Retry-After` seconds.",
    "service-unavailable": "A dependency (usually the database) is unavailable; retry after `Retry-After`.",
    "internal-error": "A bug. Nothing about it is sent to the client; operators see it in the logs.",
    frequency.PerPersonCapRefused.slug: frequency.EXPLANATION,
    live.DealNotLive.slug: live.EXPLANATION,
    **CODE_PROBLEMS,
}


class ProblemDoc(BaseModel):
    type: str
    explanation: str


def explained_slugs() -> set[str]:
    """Every problem type the service sends: one per error class."""
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
    if slug not in _EXPLANATIONS and slug not in explained_slugs():
        raise NotFound("no such problem type")
    return ProblemDoc(type=f"/problems/{slug}", explanation=_EXPLANATIONS.get(slug, "See the API documentation."))
