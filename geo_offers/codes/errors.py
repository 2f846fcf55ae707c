"""The problems of one-time codes that a till or an app acts on, each with a type of its own."""

from __future__ import annotations

from consent.errors import Conflict, InvalidInput

EXPLANATIONS = {
    "codes-used-up": "Every code of the deal's pool has been handed out; the deal is no longer matched.",
    "code-already-used": "The code was marked at a till before (`used_at` says in which hour); refuse it.",
    "code-not-claimed": "The code is one of yours but was never handed to an app: it cannot be redeemed.",
    "code-expired": "The code's deal is past its validity (`valid_until`); the code is no longer good.",
    "code-mistyped": "The code's check character does not match: it was probably mistyped or misread.",
}


class CodesUsedUp(Conflict):
    slug = "codes-used-up"
    title = "The deal's codes are used up"


class CodeAlreadyUsed(Conflict):
    slug = "code-already-used"
    title = "The code was used already"


class CodeNotClaimed(Conflict):
    slug = "code-not-claimed"
    title = "The code was never handed out"


class CodeExpired(Conflict):
    slug = "code-expired"
    title = "The code's deal has ended"


class CodeMistyped(InvalidInput):
    slug = "code-mistyped"
    title = "The code does not pass its check"
