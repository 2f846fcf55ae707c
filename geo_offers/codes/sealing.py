"""How codes are kept: a keyed digest for finding them at the till, and a sealed copy only until one is claimed.

A code is a bearer secret until it is marked: whoever reads one out of the database could walk up to a till
with it. So the database holds, per code, an HMAC-SHA256 digest (what the till looks codes up by; a keyed hash,
because a code of 40 to 50 bits would fall to an offline search of a plain hash), and, while the code has not
been handed out, the code sealed with AES-256-GCM (bound to its deal). The claim erases the sealed copy in the
same transaction that hands the code to the app; from then on only the digest is left. Both keys are derived
from the service's pepper (``GEO_OFFERS_PEPPER``), which lives outside the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12


class CodeKeys:
    """The digest key and the sealing key of one service configuration."""

    def __init__(self, pepper: str) -> None:
        secret = pepper.encode("utf-8")
        self._digest_key = hmac.digest(secret, b"geo-offers/deal-codes/digest/v1", hashlib.sha256)
        self._aead = AESGCM(hmac.digest(secret, b"geo-offers/deal-codes/seal/v1", hashlib.sha256))

    def digest(self, normalized: str) -> bytes:
        """The 32-byte lookup digest of a code in its compared form (see ``format.normalize``)."""
        return hmac.digest(self._digest_key, normalized.encode("ascii"), hashlib.sha256)

    def seal(self, deal_id: int, code: str) -> bytes:
        """The code as issued, encrypted and bound to its deal (nonce first)."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, code.encode("ascii"), _bound(deal_id))

    def open(self, deal_id: int, sealed: bytes) -> str:
        """The code sealed by ``seal`` for the same deal (InvalidTag if it was sealed for another)."""
        nonce, body = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, body, _bound(deal_id)).decode("ascii")


def _bound(deal_id: int) -> bytes:
    return b"deal:%d" % deal_id
