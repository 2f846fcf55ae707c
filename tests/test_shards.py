"""The shard-balance script hashes distribution keys exactly as PostgreSQL (and so Citus) does."""

from __future__ import annotations

import random

import h3.api.basic_int as h3
import psycopg2
import pytest

from benchmarks import shards
from tests.conftest import ADMIN_URL


def test_hashint8_is_postgresql_s_own() -> None:
    rng = random.Random(3)
    values = [0, 1, -1, -5, 2**31, -(2**31), 2**63 - 1, -(2**63)]
    values += [h3.latlng_to_cell(rng.uniform(47, 55), rng.uniform(6, 15), rng.choice([3, 4, 5])) for _ in range(50)]
    values += [rng.randint(-(2**63), 2**63 - 1) for _ in range(50)]
    conn = psycopg2.connect(ADMIN_URL)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT v, hashint8(v) FROM unnest(%s::bigint[]) AS v", (values,))
            expected = dict(cur.fetchall())
    finally:
        conn.close()
    assert {v: shards.hashint8(v) for v in values} == expected


@pytest.mark.parametrize("count", [8, 32, 128])
def test_shards_cut_the_hash_range_evenly(count: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Citus gives shard i the hash values from -2^31 + i * (2^32 / count) up to just before shard i + 1's.
    step = 2**32 // count
    cases = {-(2**31): 0, -(2**31) + step - 1: 0, -(2**31) + step: 1, -1: count // 2 - 1, 0: count // 2}
    cases[2**31 - 1] = count - 1
    for hashed, shard in cases.items():
        monkeypatch.setattr(shards, "hashint8", lambda _value, h=hashed: h)
        assert shards.shard_of(12345, count) == shard


def test_the_script_prints_the_balance_of_every_key_and_shard_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert shards.main(["--deals", "4000", "--requests", "4000", "--shards", "8,32", "--keys", "3,5"]) == 0
    out = capsys.readouterr().out
    assert "resolution-3 parent" in out and "resolution-5 parent" in out
    assert out.count("|") >= 4 * 4  # header and two rows per key
    assert "hottest keys:" in out
