"""Data-subject rights (app key, on behalf of the person in the app): access/portability and erasure."""

from __future__ import annotations

from fastapi import APIRouter

from consent import subjects
from consent.decisions import SubjectState
from consent.schemas import LedgerPosition, PurposeStateOut, SubjectId, SubjectStateOut
from geo_offers.compliance.schemas import ErasureOut, SubjectEventOut, SubjectExportOut
from geo_offers.kit.deps import AppKey, NowDep, SessionDep, SettingsDep

router = APIRouter(prefix="/v1/subjects", tags=["subjects"])

NOT_HELD = [
    "the installation id itself (only a keyed pseudonym of it)",
    "locations: a request's coarse cell is used for that request and dropped",
    "who asked for which offer: statistics are counters without subjects",
    "IP addresses, device identifiers, e-mail addresses or phone numbers",
]


def _state_out(state: SubjectState) -> SubjectStateOut:
    return SubjectStateOut(
        current_notice_version=state.current_notice_version,
        purposes=[PurposeStateOut.model_validate(p, from_attributes=True) for p in state.purposes],
    )


@router.get("/{subject_id}/export")
def export_subject(
    subject_id: SubjectId, _: AppKey, session: SessionDep, settings: SettingsDep, now: NowDep
) -> SubjectExportOut:
    """Everything the service holds about the subject (GDPR Art. 15 and 20), machine-readable: the current state
    per purpose and every ledger event under the subject's tag, with the chain hashes that prove them."""
    held = subjects.export(session, settings.consent, subject_id, now)
    return SubjectExportOut(
        exported_at=now,
        held=held.tag is not None,
        ledger_tag=held.tag,
        linked_since=held.linked_at,
        state=_state_out(held.state),
        events=[SubjectEventOut.model_validate(e) for e in held.events],
        not_held=NOT_HELD,
    )


@router.delete("/{subject_id}")
def erase_subject(
    subject_id: SubjectId, _: AppKey, session: SessionDep, settings: SettingsDep, now: NowDep
) -> ErasureOut:
    """Erase the subject (GDPR Art. 17): an erasure event goes into the ledger, then the current state and the
    link from the subject's pseudonym to its ledger tag are deleted, in one transaction. Matching answers
    consent-required from the next request on; a later grant starts a new history that cannot be linked to the
    old one. The ledger's remaining events stay (and the chain still verifies), but name no one."""
    erased = subjects.erase(session, settings.consent, subject_id, now)
    return ErasureOut(
        erasure_id=erased.erasure_id,
        recorded_at=erased.recorded_at,
        purposes=erased.purposes,
        ledger=LedgerPosition(seq=erased.seq, hash=erased.hash),
    )
