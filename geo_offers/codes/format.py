"""What a one-time code looks like: alphabets, generation with ``secrets``, the check character, the form in
which codes are compared at the till, and the QR-ready payload.

Generated codes end in a check character: every second character from the right counts double, mod N (the
alphabet's size). For an even N a doubled value's two base-N digits are added, which is Luhn mod N (over the
digits 0-9, the ordinary Luhn digit); for an odd N, such as the default alphabet's 31, doubling is already a
one-to-one map mod N and is used as it is (Luhn's digit sum would map two values to one there). Either way
every single wrong character is caught, and every swap of two neighbours (for an even N all but one pair of
values). It does not make a code harder to guess; it lets the till tell a cashier "mistyped" instead of "not
one of your codes".

Codes are compared without case, spaces and hyphens, so "7kq2-mx4p" typed at a till finds "7KQ2MX4P".
"""

from __future__ import annotations

import math
import re
import secrets

#: Upper-case letters and digits without the ones people confuse when reading a code aloud or off a
#: screen: no 0 (O), 1 (I, L), O, I or L. 31 characters, about 4.95 bits each.
DEFAULT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
DEFAULT_LENGTH = 10
#: A generated code's random part must have at least this many bits: guessing one of a pool of 100,000
#: codes then takes about 11 million tries on average.
MIN_BITS = 40.0
MIN_LENGTH = 4
MAX_LENGTH = 32
MAX_UPLOADED_LENGTH = 64
#: Pairs of characters an alphabet may not hold together (people read one for the other).
CONFUSABLE = ("0O", "1I", "1L", "IL")
PAYLOAD_PREFIX = "GEO-OFFERS:CODE:"

_ALPHABET_CHARS = re.compile(r"^[0-9A-Z]+$")
_UPLOADED = re.compile(r"^[0-9A-Za-z][0-9A-Za-z -]*$")
_PAYLOAD = re.compile(r"^GEO-OFFERS:CODE:([1-9][0-9]{0,18}):([0-9A-Z]+)$")


def normalize(code: str) -> str:
    """The form codes are compared in: spaces and hyphens dropped, letters upper-cased."""
    return code.replace(" ", "").replace("-", "").upper()


def alphabet_problem(alphabet: str, length: int) -> str | None:
    """Why codes of ``length`` over ``alphabet`` cannot be generated, or None when they can."""
    if not _ALPHABET_CHARS.match(alphabet):
        return "an alphabet holds only upper-case letters A-Z and digits 0-9"
    if len(set(alphabet)) != len(alphabet):
        return "each character may appear once in the alphabet"
    if len(alphabet) < 2:
        return "an alphabet needs at least 2 characters"
    for pair in CONFUSABLE:
        if set(pair) <= set(alphabet):
            return f"the alphabet holds both {pair[0]} and {pair[1]}, which people confuse; drop one"
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        return f"a code's length is {MIN_LENGTH} to {MAX_LENGTH} characters"
    bits = random_bits(alphabet, length)
    if bits < MIN_BITS:
        return (
            f"{length - 1} random characters of a {len(alphabet)}-character alphabet (the last one is a check "
            f"character) give {bits:.1f} bits; at least {MIN_BITS:.0f} are needed so that codes cannot be "
            "guessed: make the codes longer or the alphabet larger"
        )
    return None


def canonical_alphabet(alphabet: str) -> str:
    """The alphabet in the order its characters take as check-character values (sorted)."""
    return "".join(sorted(alphabet))


def random_bits(alphabet: str, length: int) -> float:
    """Entropy of a generated code: every character but the check character is drawn uniformly."""
    return (length - 1) * math.log2(len(alphabet))


def _weighted_sum(digits: str, alphabet: str, double_first: bool) -> int:
    n = len(alphabet)
    fold = n % 2 == 0
    total, double = 0, double_first
    for char in reversed(digits):
        value = alphabet.index(char) * (2 if double else 1)
        total += value // n + value % n if fold else value
        double = not double
    return total


def check_character(body: str, alphabet: str) -> str:
    """The check character that completes ``body`` (every character of it in ``alphabet``)."""
    n = len(alphabet)
    return alphabet[(n - _weighted_sum(body, alphabet, double_first=True) % n) % n]


def check_holds(code: str, alphabet: str) -> bool:
    """Whether a whole code (check character last) passes the check of ``alphabet``."""
    if len(code) < 2 or any(char not in alphabet for char in code):
        return False
    return _weighted_sum(code, alphabet, double_first=False) % len(alphabet) == 0


def generate(alphabet: str, length: int) -> str:
    """A random code: ``length - 1`` characters from ``secrets``, then the check character."""
    body = "".join(secrets.choice(alphabet) for _ in range(length - 1))
    return body + check_character(body, alphabet)


def uploaded_problem(code: str) -> str | None:
    """Why a code a store uploads is refused, or None."""
    if not _UPLOADED.match(code):
        return "a code holds letters, digits, spaces and hyphens, starting with a letter or digit"
    size = len(normalize(code))
    if not MIN_LENGTH <= size <= MAX_UPLOADED_LENGTH:
        return f"a code has {MIN_LENGTH} to {MAX_UPLOADED_LENGTH} letters and digits"
    return None


def payload(deal_id: int, code: str) -> str:
    """The string an app renders as a QR code: ``GEO-OFFERS:CODE:<deal id>:<code>``.

    Upper-case letters, digits, ``-`` and ``:`` only, so a QR encoder can use its compact alphanumeric mode;
    a till that scans it sends it to ``POST /v1/redemptions`` as it is.
    """
    return f"{PAYLOAD_PREFIX}{deal_id}:{normalize(code)}"


def parse_till_input(text: str) -> tuple[int | None, str]:
    """(deal id or None, normalized code) from what a till sends: a scanned payload or a typed code."""
    stripped = text.strip()
    if stripped.upper().startswith(PAYLOAD_PREFIX):
        found = _PAYLOAD.match(stripped.upper())
        if found is None:
            raise ValueError(f"a scanned payload reads {PAYLOAD_PREFIX}<deal id>:<code>")
        return int(found.group(1)), found.group(2)
    problem = uploaded_problem(stripped)
    if problem is not None:
        raise ValueError(problem)
    return None, normalize(stripped)
