"""Consent decisions: grants, refusals and withdrawals, each one transaction that updates the subject's state
and appends its ledger event, and the state they leave behind."""

from consent.decisions.grant import decline, grant
from consent.decisions.receipts import Decision, Receipt
from consent.decisions.subject import PurposeState, SubjectState, subject_state
from consent.decisions.withdraw import withdraw

__all__ = ["Decision", "PurposeState", "Receipt", "SubjectState", "decline", "grant", "subject_state", "withdraw"]
