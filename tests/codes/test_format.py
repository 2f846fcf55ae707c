"""The form of codes: generation, the check character, comparison at the till, the QR payload, the sealing."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from geo_offers.codes import format as codes
from geo_offers.codes.sealing import CodeKeys


def test_generated_codes_use_the_alphabet_and_end_in_a_valid_check_character() -> None:
    made = {codes.generate(codes.DEFAULT_ALPHABET, 10) for _ in range(2000)}
    assert len(made) == 2000  # about 49 random bits each: no repeats in a few thousand
    for code in made:
        assert len(code) == 10 and set(code) <= set(codes.DEFAULT_ALPHABET)
        assert codes.check_holds(code, codes.DEFAULT_ALPHABET)
    assert not set("01OIL") & set(codes.DEFAULT_ALPHABET)


def test_the_check_character_over_digits_is_the_luhn_digit() -> None:
    # The classic Luhn example: 7992739871 completes to 79927398713.
    assert codes.check_character("7992739871", "0123456789") == "3"
    assert codes.check_holds("79927398713", "0123456789")
    assert not codes.check_holds("79927398714", "0123456789")


def _typos_and_swaps_missed(alphabet: str, rounds: int = 200) -> tuple[int, int]:
    missed_typos = missed_swaps = 0
    for _ in range(rounds):
        code = codes.generate(alphabet, 12)
        for i, char in enumerate(code):
            for other in alphabet.replace(char, ""):
                missed_typos += codes.check_holds(code[:i] + other + code[i + 1 :], alphabet)
        for i in range(len(code) - 1):
            if code[i] != code[i + 1]:
                missed_swaps += codes.check_holds(code[:i] + code[i + 1] + code[i] + code[i + 2 :], alphabet)
    return missed_typos, missed_swaps


def test_the_check_character_catches_every_typo_and_every_swap_over_an_odd_alphabet() -> None:
    assert len(codes.DEFAULT_ALPHABET) % 2 == 1
    assert _typos_and_swaps_missed(codes.DEFAULT_ALPHABET) == (0, 0)


def test_the_check_character_catches_every_typo_over_an_even_alphabet() -> None:
    typos, swaps = _typos_and_swaps_missed("0123456789")
    # Luhn misses only swapping 0 and 9 (and 9 and 0): at most 2 of the 90 ordered pairs of neighbours.
    assert typos == 0 and swaps <= 200 * 11 * 2 // 90 + 10
    assert _typos_and_swaps_missed("23456789ABCDEFGHJKMNPQRSTUVWXYZ" + "0")[0] == 0


@pytest.mark.parametrize(
    ("alphabet", "length", "reason"),
    [
        ("0123456789", 10, "bits"),  # 9 random digits: 29.9 bits
        ("ABCDEFGHJK", 8, "bits"),
        ("0O23456789ABCDEFGHJKMNPQRSTUVWXYZ", 12, "confuse"),
        ("123456789ABCDEFGHIJK", 14, "confuse"),
        ("abcdefghjkmnpqrstuvwxyz", 12, "upper-case"),
        ("AABCDEFGHJKMNPQRSTUVWXYZ", 12, "once"),
        (codes.DEFAULT_ALPHABET, 40, "length"),
    ],
)
def test_guessable_or_confusing_forms_are_refused(alphabet: str, length: int, reason: str) -> None:
    problem = codes.alphabet_problem(alphabet, length)
    assert problem is not None and reason in problem


def test_a_numeric_form_long_enough_is_accepted() -> None:
    assert codes.alphabet_problem("0123456789", 14) is None  # 13 random digits: 43.2 bits
    assert codes.alphabet_problem(codes.DEFAULT_ALPHABET, codes.DEFAULT_LENGTH) is None


def test_the_till_reads_typed_codes_and_scanned_payloads_alike() -> None:
    assert codes.payload(42, "7kq2-mx4p-9c") == "GEO-OFFERS:CODE:42:7KQ2MX4P9C"
    assert codes.parse_till_input(" 7kq2-mx4p 9c ") == (None, "7KQ2MX4P9C")
    assert codes.parse_till_input("GEO-OFFERS:CODE:42:7KQ2MX4P9C") == (42, "7KQ2MX4P9C")
    assert codes.parse_till_input("geo-offers:code:42:7kq2mx4p9c") == (42, "7KQ2MX4P9C")
    for bad in ("GEO-OFFERS:CODE:x:7KQ2", "GEO-OFFERS:CODE:42:", "ab", "7KQ2;DROP", "-ABCD"):
        with pytest.raises(ValueError):
            codes.parse_till_input(bad)


def test_sealed_codes_open_only_for_their_deal_and_key() -> None:
    keys = CodeKeys("a pepper of at least thirty-two characters")
    sealed = keys.seal(7, "SUMMER-0001")
    assert b"SUMMER" not in sealed and keys.open(7, sealed) == "SUMMER-0001"
    with pytest.raises(InvalidTag):
        keys.open(8, sealed)
    with pytest.raises(InvalidTag):
        CodeKeys("another pepper of at least thirty-two chars").open(7, sealed)
    assert keys.digest("ABC") == CodeKeys("a pepper of at least thirty-two characters").digest("ABC")
    assert keys.digest("ABC") != CodeKeys("another pepper of at least thirty-two chars").digest("ABC")
