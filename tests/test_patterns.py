"""The patterns the OpenAPI document states match exactly what the server's own checks take.

The server checks H3 cells with h3 and subject ids with ``normalise_subject_id``; the document states them as
regular expressions (ECMA-262, which these are written to share with Python's ``re``). A client generated from
the document, and the contract fuzzer, rely on the two agreeing both ways.
"""

from __future__ import annotations

import random
import re
import uuid

import h3.api.basic_int as h3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.errors import InvalidInput
from consent.pseudonyms import SUBJECT_ID_PATTERN, normalise_subject_id
from geo_offers.places.cell_patterns import cell_pattern
from geo_offers.places.cells import parse_cell, resolution

HEX = "0123456789abcdefABCDEF"


def _server_takes(text: str, resolutions: range) -> bool:
    try:
        return resolution(parse_cell(text)) in resolutions
    except InvalidInput:
        return False


def _candidates(rng: random.Random, count: int) -> list[str]:
    """Valid cells of every resolution (pentagons and their descendants included) and near misses of them."""
    pentagons = [p for res in range(16) for p in h3.get_pentagons(res)]
    found = []
    for _ in range(count):
        res = rng.randrange(16)
        if rng.random() < 0.25:
            cell = rng.choice(pentagons)
            if h3.get_resolution(cell) < res:  # a descendant along any digit, deleted ones refused by h3
                cell = rng.choice(list(h3.cell_to_children(cell, min(res, h3.get_resolution(cell) + 2))))
        else:
            cell = h3.latlng_to_cell(rng.uniform(-90, 90), rng.uniform(-180, 180), res)
        text = format(cell, "x")
        roll = rng.random()
        if roll < 0.45:
            at = rng.randrange(len(text))
            text = text[:at] + rng.choice(HEX) + text[at + 1 :]
        elif roll < 0.55:
            text = text.upper()
        elif roll < 0.6:
            text = "0" + text
        elif roll < 0.65:
            text = "".join(rng.choice(HEX) for _ in range(rng.choice((14, 15, 16))))
        elif roll < 0.7:
            text = rng.choice((" ", "00", "x", "")) + text
        found.append(text)
    return found


@pytest.mark.parametrize("resolutions", [range(5, 16), range(3, 6), range(4, 7), range(16)], ids=str)
def test_the_cell_pattern_takes_exactly_the_cells_h3_takes(resolutions: range) -> None:
    pattern = re.compile(cell_pattern(resolutions))
    disagreements = [
        text
        for text in _candidates(random.Random(len(resolutions)), 40_000)
        if bool(pattern.match(text)) != _server_takes(text, resolutions)
    ]
    assert disagreements == []


def test_the_cell_pattern_refuses_the_deleted_pentagon_digits() -> None:
    pattern = re.compile(cell_pattern(range(16)))
    pentagon = h3.get_pentagons(0)[0]
    deleted = (pentagon & ~(0b111 << 42) & ~(0xF << 52)) | (1 << 52) | (1 << 42)  # resolution 1, digit 1
    assert not h3.is_valid_cell(deleted) and not pattern.match(format(deleted, "x"))
    assert pattern.match(format(h3.cell_to_center_child(pentagon, 1), "x"))


@settings(max_examples=300, deadline=None)
@given(text=st.from_regex(SUBJECT_ID_PATTERN, fullmatch=True) | st.uuids().map(str) | st.text(max_size=40))
def test_the_subject_id_pattern_takes_exactly_what_the_server_takes(text: str) -> None:
    try:
        normalise_subject_id(text)
        taken = True
    except ValueError:
        taken = False
    assert bool(re.match(SUBJECT_ID_PATTERN, text)) == taken


def test_the_subject_id_pattern_refuses_the_nil_and_max_uuid_in_either_case() -> None:
    for text in (str(uuid.UUID(int=0)), "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", " " + str(uuid.uuid4())):
        assert not re.match(SUBJECT_ID_PATTERN, text)
        with pytest.raises(ValueError):
            normalise_subject_id(text)
    assert re.match(SUBJECT_ID_PATTERN, str(uuid.uuid4()).upper())
