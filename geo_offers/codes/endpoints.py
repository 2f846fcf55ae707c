"""Code routes: a store fills and reads its deal's pool (merchant key), an app claims a code at the moment of
redeeming (app key, no subject id), and the till marks it (merchant key)."""

from __future__ import annotations

from fastapi import APIRouter, status

from consent.errors import RateLimited
from geo_offers.codes import claims, repository
from geo_offers.codes import format as codes
from geo_offers.codes.schemas import ClaimedCode, ClaimRequest, CodePoolOut, CodesAdd, Redemption, RedemptionRequest
from geo_offers.codes.sealing import CodeKeys
from geo_offers.kit.deps import AppKey, MerchantKey, NowDep, ServicesDep, SessionDep
from geo_offers.kit.params import RowId
from geo_offers.places.stores.endpoints import merchant_of
from geo_offers.services import Services

pool_router = APIRouter(prefix="/v1/deals", tags=["codes"])
claim_router = APIRouter(prefix="/v1/offers", tags=["offers"])
till_router = APIRouter(prefix="/v1/redemptions", tags=["codes"])


def _keys(services: Services) -> CodeKeys:
    return CodeKeys(services.settings.consent.pepper.get_secret_value())


@pool_router.post("/{deal_id}/codes", status_code=status.HTTP_201_CREATED)
def add_codes(
    deal_id: RowId, body: CodesAdd, principal: MerchantKey, services: ServicesDep, session: SessionDep, now: NowDep
) -> CodePoolOut:
    """Add one-time codes to a deal: your own (`codes`, up to 5,000 a request) or made by the service
    (`generate`: count, alphabet, length; each code ends in a check character). A deal's pool holds codes of one
    origin (uploaded or generated), never both.
    Codes are kept only as a keyed digest plus, until handed out, an encrypted copy; they are never shown
    to you again. All or nothing: a code you have already (in any deal) refuses the whole request (409).
    """
    return repository.add_codes(
        session,
        _keys(services),
        merchant_of(principal),
        deal_id,
        now,
        uploaded=body.codes,
        generate=body.generate,
        burst=services.settings.codes.code_claims_per_deal_burst,
    )


@pool_router.get("/{deal_id}/codes")
def read_pool(deal_id: RowId, principal: MerchantKey, session: SessionDep) -> CodePoolOut:
    """How many of the deal's codes are available, claimed, used and void."""
    return repository.pool_summary(session, merchant_of(principal), deal_id)


@pool_router.delete("/{deal_id}/codes")
def withdraw_codes(deal_id: RowId, principal: MerchantKey, session: SessionDep) -> CodePoolOut:
    """Void every code not yet handed out (codes already claimed stay good at the till). With no code left,
    the deal stops being matched until you add codes again."""
    return repository.withdraw(session, merchant_of(principal), deal_id)


@claim_router.post("/{deal_id}/codes", status_code=status.HTTP_201_CREATED)
def claim_code(
    deal_id: RowId,
    principal: AppKey,
    services: ServicesDep,
    session: SessionDep,
    now: NowDep,
    body: ClaimRequest | None = None,
) -> ClaimedCode:
    """Claim one of a live deal's one-time codes, at the moment the person redeems (no subject id: the code
    is random and linked to no one). Answers the code and a QR-ready `payload` for the till. 409 when the
    deal has no codes or they are used up (`/problems/codes-used-up`) or it is not live; 429 when the app key
    or the deal claims too fast. A lost answer loses its code: claim only when the person is at the till.
    """
    try:
        services.code_claims.hit(principal.key_id)
    except RateLimited as error:
        raise RateLimited(
            "this app key claims codes too fast; slow down", retry_after_s=int(error.headers["Retry-After"])
        ) from error
    done = claims.claim(session, _keys(services), deal_id, now, services.settings.codes)
    return ClaimedCode(
        deal_id=done.deal_id,
        code=done.code,
        payload=codes.payload(done.deal_id, done.code),
        expires_at=done.expires_at,
    )


@till_router.post("")
def redeem_code(
    body: RedemptionRequest, principal: MerchantKey, services: ServicesDep, session: SessionDep, now: NowDep
) -> Redemption:
    """Check and mark a code at the till, typed or scanned from the app's QR code, in one step. A code
    already used (`/problems/code-already-used`), never handed out (`code-not-claimed`), of an ended deal
    (`code-expired`) or mistyped (`code-mistyped`, generated codes only) is refused; a code that is not one
    of yours answers 404.
    """
    done = claims.mark(session, _keys(services), merchant_of(principal), body.code, now)
    return Redemption(deal_id=done.deal_id, store_id=done.store_id, title=done.title, used_at=done.used_at)
