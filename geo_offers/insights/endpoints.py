"""Insight routes (merchant key, own deals and stores only) and the privacy-budget log (dpo key).

The insight routes are built for the app's settings: the activity cell's pattern in the OpenAPI document states
the resolutions these settings take. (No ``from __future__ import annotations`` here: FastAPI reads the route
signatures, and a postponed annotation cannot name the factory's local parameter type.)
"""

from typing import Annotated

import h3.api.basic_int as h3
from fastapi import APIRouter, Query

from geo_offers.compliance.access_log import AuditedRoute, Auditor
from geo_offers.insights import releases as insights
from geo_offers.insights import repository as insights_repo
from geo_offers.insights.counter import ACTIVITY_RES
from geo_offers.insights.privacy import noise_key
from geo_offers.insights.schemas import ActivityInsights, BudgetEntry, BudgetLog, DealInsights, SuggestedWindows
from geo_offers.insights.suggestions import suggest
from geo_offers.kit.deps import MerchantKey, NowDep, ReadSessionDep, ServicesDep, SessionDep
from geo_offers.kit.params import BIGINT_MAX, After, RowId
from geo_offers.places.cell_patterns import cell_pattern
from geo_offers.places.cells import parse_cell
from geo_offers.places.stores import repository as stores_repo
from geo_offers.settings import Settings

audit_router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=AuditedRoute)


def _release(services: ServicesDep, principal: MerchantKey, now: NowDep) -> insights.Release:
    settings = services.settings
    key = noise_key(settings.consent.pepper.get_secret_value())
    return insights.Release.of(settings, key, principal, now)


def build_router(settings: Settings) -> APIRouter:
    """The insight routes of an app with these settings."""
    router = APIRouter(prefix="/v1/insights", tags=["insights"])
    activity_res = range(settings.activity_coarsest_res, ACTIVITY_RES + 1)
    activity_cell = Query(
        max_length=16,
        description=f"An H3 cell of resolution {activity_res.start} to {ACTIVITY_RES} that holds or borders one of "
        "your stores.",
        json_schema_extra={"pattern": cell_pattern(activity_res)},
    )

    @router.get("/deals/{deal_id:int}")
    def deal_insights(
        deal_id: RowId,
        principal: MerchantKey,
        services: ServicesDep,
        session: SessionDep,
        reads: ReadSessionDep,
        now: NowDep,
        days: Annotated[int, Query(ge=1, le=366, description="How many closed days to show, newest last.")] = 28,
    ) -> DealInsights:
        """How often one of your deals was served, seen, clicked and redeemed: per day, per week (with growth)
        and per hour of the week, in the store's time zone. Each figure rests on at least k events or is
        suppressed, and carries differential-privacy noise; `privacy` states the parameters. Another
        merchant's deal answers 404.
        """
        return insights.deal_insights(session, _release(services, principal, now), deal_id, days, reads)

    @router.get("/activity")
    def activity(
        principal: MerchantKey,
        services: ServicesDep,
        session: SessionDep,
        reads: ReadSessionDep,
        now: NowDep,
        cell: Annotated[str, activity_cell],
    ) -> ActivityInsights:
        """At which hours of the week consenting people in a cell asked for offers (summed over the last
        complete weeks). The cell must hold or border one of your stores (403 otherwise) and be of resolution 6
        or coarser: activity is never counted in finer cells. Figures are k-suppressed and noised.
        """
        parsed = parse_cell(cell)
        release = _release(services, principal, now)
        return insights.activity_insights(session, release, parsed, activity_res.start, reads)

    @router.get("/stores/{store_id:int}/suggested-windows")
    def suggested_windows(
        store_id: RowId,
        principal: MerchantKey,
        services: ServicesDep,
        session: SessionDep,
        reads: ReadSessionDep,
        now: NowDep,
        resolution: Annotated[
            int,
            Query(ge=0, le=ACTIVITY_RES, description="Resolution of the store's cell to read (coarser: more people)."),
        ] = ACTIVITY_RES,
        limit: Annotated[int, Query(ge=1, le=10, description="How many windows at most.")] = 3,
    ) -> SuggestedWindows:
        """The weekly windows in which consenting people near one of your stores ask for offers most, computed only
        from the published hour-of-week activity figures of the store's cell (the very figures of
        `GET /v1/insights/activity`, same noise), so it costs no privacy budget beyond that release. Suppressed
        hours count as quieter than any published one, never as zero. The answer names the figures it rests on and
        how sure each window is. Another merchant's store answers 404.
        """
        assert principal.merchant_id is not None
        store = stores_repo.get_store(session, principal.merchant_id, store_id)
        cell = int(h3.latlng_to_cell(store.lat, store.lon, resolution))
        release = _release(services, principal, now)
        published = insights.activity_insights(session, release, cell, services.settings.activity_coarsest_res, reads)
        return suggest(published, store_id, limit)

    return router


@audit_router.get("/privacy-budget")
def privacy_budget(
    _: Auditor,
    session: SessionDep,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    merchant_id: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
) -> BudgetLog:
    """Every insight release in order: which key asked, for which figures, at which epsilon and k."""
    rows = insights_repo.budget_entries(session, after=after, limit=limit, merchant_id=merchant_id)
    items = [BudgetEntry.model_validate(row, from_attributes=True) for row in rows]
    return BudgetLog(items=items, next_after=items[-1].id if len(items) == limit else None)
