"""The durability script, short: SIGKILL, PostgreSQL restarts and an outage under load lose no acknowledged decision."""

from __future__ import annotations

import shutil
import socket

import pytest

from tests.faults import durability


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.skipif(not (durability.PG_BIN / "initdb").exists(), reason="needs the PostgreSQL server binaries")
@pytest.mark.skipif(shutil.which("geo-offers") is None, reason="needs the geo-offers command on PATH")
def test_no_acknowledged_decision_is_lost_under_faults(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--pg-port", str(_free_port()), "--port", str(_free_port()), "--clients", "3"]
    status = durability.main([*argv, "--seconds-between", "1", "--outage", "2"])
    report = capsys.readouterr().out
    assert status == 0, report
    assert "lost:                        0" in report
