"""Regular expressions that match exactly the H3 cell indexes of given resolutions, for the OpenAPI document.

A route that takes a cell checks it with h3 (``cells.parse_cell``); the document has to state the same rule, or a
client generated from it sends strings the server refuses. A cell index is 64 bits printed in hexadecimal
(15 digits; a leading 0 makes 16): the mode nibble ``8``, the resolution, a 7-bit base cell below 122, then
fifteen 3-bit digits, those up to the resolution 0 to 6 and the rest 7. The digits do not line up with hex
digits, so the expression is built by walking the bits: each hex digit is a character class, and where a digit
spans two hex digits the walk keeps the bits it has seen. Pentagon base cells also lack the digit 1 as their
first non-zero digit (the deleted k-axis subsequence): a lookahead refuses those. Whitespace around the index is
allowed, as ``parse_cell`` strips it. ``tests/test_patterns.py``
compares the expressions with h3 on random and mutated indexes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

_PAYLOAD_NIBBLES = 13  # base cell (7 bits) and 15 digits (45 bits): 52 bits after the resolution nibble
_BASE_CELLS = 122
_PENTAGONS = (4, 14, 24, 38, 49, 58, 63, 72, 83, 97, 107, 117)
State = tuple[int, int]  # bits of the current digit seen so far, and their value
#: What ``str.strip()`` removes around a cell (Python's whitespace), written out for every regex engine.
_SPACE = "[" + "".join(f"\\u{ord(c):04x}" for c in map(chr, range(0x3001)) if c.isspace()) + "]"


def _hex_class(values: Iterable[int]) -> str:
    """A character class for hex digit values, in either case."""
    chosen = sorted(set(values))
    if len(chosen) == 16:
        return "[0-9a-fA-F]"
    parts: list[str] = []
    runs: list[tuple[int, int]] = []
    for value in chosen:
        if runs and value == runs[-1][1] + 1 and (value < 10) == (runs[-1][1] < 10):
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    for case in (str.lower, str.upper):
        for low, high in runs:
            if low >= 10 or case is str.lower:
                a, b = case(format(low, "x")), case(format(high, "x"))
                parts.append(a if low == high else f"{a}{b}" if high == low + 1 else f"{a}-{b}")
    text = "".join(parts)
    return text if len(chosen) == 1 and chosen[0] < 10 else f"[{text}]"


def _step(nibble: int, state: State, value: int, res: int) -> State | None:
    """The state after payload nibble ``nibble`` holds ``value``, or None if no valid cell has it there."""
    seen, bits = state
    for offset in range(4):
        position = 4 * nibble + offset
        if position < 7:
            continue  # a base-cell bit: checked with the first two nibbles
        digit = (position - 7) // 3 + 1
        seen, bits = seen + 1, bits * 2 + ((value >> (3 - offset)) & 1)
        if seen == 3:
            if (digit <= res) == (bits == 7):  # used digits are 0..6, unused ones 7
                return None
            seen, bits = 0, 0
    return seen, bits


@cache
def _digits(res: int) -> tuple[dict[int, str], str]:
    """For one resolution: the expression for payload nibbles 2 up to the first point where every valid cell
    is in one state, per state after nibble 1; and the expression for the rest."""
    reachable: dict[int, set[State]] = {2: {(1, 0), (1, 1)}}
    moves: dict[tuple[int, State], dict[State, list[int]]] = {}
    for nibble in range(2, _PAYLOAD_NIBBLES):
        reachable[nibble + 1] = set()
        for state in reachable[nibble]:
            for value in range(16):
                after = _step(nibble, state, value, res)
                if after is not None:
                    moves.setdefault((nibble, state), {}).setdefault(after, []).append(value)
                    reachable[nibble + 1].add(after)
    alive: dict[int, set[State]] = {_PAYLOAD_NIBBLES: {(0, 0)}}
    for nibble in range(_PAYLOAD_NIBBLES - 1, 1, -1):
        alive[nibble] = {s for s in reachable[nibble] if set(moves.get((nibble, s), {})) & alive[nibble + 1]}

    def segment(nibble: int, state: State, end: int) -> str:
        if nibble == end:
            return ""
        by_rest: dict[str, list[int]] = {}
        for after, values in moves[(nibble, state)].items():
            if after in alive[nibble + 1]:
                by_rest.setdefault(segment(nibble + 1, after, end), []).extend(values)
        options = [_hex_class(values) + rest for rest, values in by_rest.items()]
        return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"

    cuts = [n for n in range(3, _PAYLOAD_NIBBLES + 1) if len(alive[n]) == 1]
    head = {state[1]: segment(2, state, cuts[0]) for state in sorted(alive[2])}
    tail = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        (state,) = alive[start]
        tail.append(segment(start, state, end))
    return head, re.sub(r"(?:\[fF\]){2,}", lambda m: f"[fF]{{{len(m.group(0)) // 4}}}", "".join(tail))


def _resolution(res: int) -> str:
    head, tail = _digits(res)
    # Nibbles 0 and 1 hold the base cell's 7 bits and the first bit of digit 1. Base cells 0 to 119 fill the
    # high nibbles 0 to e; 120 and 121 start nibble f.
    full, extra = divmod(_BASE_CELLS, 8)
    options = []
    for first_bit, rest in sorted(head.items()):
        low = [v for v in range(16) if v % 2 == first_bit]
        edge = [(b << 1) | first_bit for b in range(extra)]
        options.append(f"(?:{_hex_class(range(full))}{_hex_class(low)}|{_hex_class([full])}{_hex_class(edge)})" + rest)
    return _hex_class([res]) + "(?:" + "|".join(options) + ")" + tail


def cell_pattern(resolutions: Iterable[int]) -> str:
    """An ECMA-262 (and Python) expression matching exactly the H3 cells of ``resolutions`` in hexadecimal."""
    # A pentagon's first non-zero digit is never 1: after its base cell, the first 1-bit of the digits may not
    # be the last bit of a digit, i.e. the digit bits may not start with 3k + 2 zero bits and then a one.
    pentagons = "|".join(_hex_class([b >> 3]) + _hex_class([(b & 7) << 1]) for b in _PENTAGONS)
    deleted = f"(?!.(?:{pentagons})(?:000)*(?:[4-7]|0[189a-fA-F]|00[23]))"
    cells = "|".join(_resolution(r) for r in sorted(set(resolutions)))
    return f"^{_SPACE}*0?8{deleted}(?:{cells}){_SPACE}*$"
