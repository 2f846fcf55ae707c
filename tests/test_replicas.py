"""The replica harness, short: a real primary and pg_basebackup standby, three instances, a few trials and every
fault. It asserts what the long run shows (0 stale answers, every request answered, 503s as problem+json, no
acknowledged write lost); the figures themselves come from `bash scripts/faults` (tests/faults/replicas.py)."""

from __future__ import annotations

import socket

import pytest

from tests.faults import replicas
from tests.faults.durability import PG_BIN

_TAKEN: set[int] = set()


def _free_port(first: int) -> int:
    """A free port from ``first`` on (the harness's own ranges: clusters at 18440+, instances at 18310+)."""
    for port in range(first, first + 10):
        if port in _TAKEN:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _TAKEN.add(port)
        return port
    raise RuntimeError(f"no free port from {first}")


@pytest.mark.slow
@pytest.mark.skipif(not (PG_BIN / "pg_basebackup").exists(), reason="needs the PostgreSQL server binaries")
def test_a_primary_and_standby_fleet_keeps_its_promises_under_faults(capsys: pytest.CaptureFixture[str]) -> None:
    ports = ",".join(str(_free_port(18310)) for _ in range(3))
    argv = ["--primary-port", str(_free_port(18440)), "--standby-port", str(_free_port(18440)), "--ports", ports]
    status = replicas.main(
        [*argv, "--trials", "30", "--rounds", "5", "--cost-seconds", "0", "--outage", "2", "--gate-port", "0"]
    )
    report = capsys.readouterr().out
    assert status == 0, report
    assert '"standby-reader-1": 0' in report and "lost: 0" in report
