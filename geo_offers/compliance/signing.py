"""The ledger signing key, from a file or a secret setting; never from (or into) the database."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.errors import Conflict
from consent.ledger.checkpoints import load_private_key, load_public_key
from geo_offers.settings import Settings


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The configured private key; Conflict with a how-to when none is configured or it cannot be read."""
    if settings.ledger_signing_key is not None:
        data = settings.ledger_signing_key.get_secret_value().encode("utf-8")
    elif settings.ledger_signing_key_file is not None:
        try:
            data = settings.ledger_signing_key_file.read_bytes()
        except OSError as error:
            raise Conflict(f"cannot read the ledger signing key file: {error.strerror}") from error
    else:
        raise Conflict(
            "no ledger signing key is configured: set GEO_OFFERS_LEDGER_SIGNING_KEY_FILE "
            "(make one with `geo-offers ledger keygen FILE`) or GEO_OFFERS_LEDGER_SIGNING_KEY"
        )
    try:
        return load_private_key(data)
    except ValueError as error:
        raise Conflict(f"the ledger signing key is not usable: {error}") from error


def trusted_public_key(settings: Settings) -> bytes | None:
    """The pinned public key checkpoints must be signed with, if configured."""
    if settings.ledger_public_key is None:
        return None
    try:
        return load_public_key(settings.ledger_public_key.encode("utf-8"))
    except ValueError as error:
        raise Conflict(f"GEO_OFFERS_LEDGER_PUBLIC_KEY is not usable: {error}") from error
