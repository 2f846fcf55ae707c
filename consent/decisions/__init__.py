"""Consent decisions: grants, refusals and withdrawals, each writing the subject's state and appending its
ledger event in one transaction, alone (``grant``...) or in a group commit (``DecisionWriter``), and the state
they leave behind."""

from consent.decisions.grant import decline, grant, prepare_decline, prepare_grant
from consent.decisions.receipts import Decision, Outcome, Pending, Receipt
from consent.decisions.subject import PurposeState, SubjectState, subject_state
from consent.decisions.withdraw import prepare_withdraw, withdraw
from consent.decisions.writer import DecisionWriter

__all__ = [
    "Decision",
    "DecisionWriter",
    "Outcome",
    "Pending",
    "PurposeState",
    "Receipt",
    "SubjectState",
    "decline",
    "grant",
    "prepare_decline",
    "prepare_grant",
    "prepare_withdraw",
    "subject_state",
    "withdraw",
]
