"""The operator CLI: what it prints is exactly what a script captures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import typer
from sqlalchemy import text

from geo_offers.cli import app, main
from geo_offers.kit.database import Database
from geo_offers.settings import Settings


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("GEO_OFFERS_DATABASE_URL", database_url)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_merchants_create_prints_only_the_id(capsys: pytest.CaptureFixture[str], db: Database) -> None:
    out = _run(capsys, "merchants", "create", "Bäckerei Schulz")
    assert re.fullmatch(r"\d+\n", out)
    with db.engine.connect() as conn:
        name = conn.execute(text("SELECT name FROM merchants WHERE id = :id"), {"id": int(out)}).scalar_one()
    assert name == "Bäckerei Schulz"


def test_keys_create_prints_only_the_key_and_revoke_works(capsys: pytest.CaptureFixture[str], db: Database) -> None:
    merchant_id = _run(capsys, "merchants", "create", "Eisdiele Venezia").strip()
    key = _run(capsys, "keys", "create", "--role", "merchant", "--merchant", merchant_id).strip()
    assert re.fullmatch(r"gok_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
    key_id = key.split("_")[1]
    listing = _run(capsys, "keys", "list")
    assert key_id in listing and key not in listing
    _run(capsys, "keys", "revoke", key_id)
    with db.engine.connect() as conn:
        revoked = conn.execute(text("SELECT revoked_at FROM api_keys WHERE id = :id"), {"id": key_id}).scalar_one()
    assert revoked is not None


def test_merchant_key_without_merchant_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--role", "merchant"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "merchant" in captured.err


def test_db_upgrade_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0


def test_consent_expire_prints_what_it_did(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "consent", "expire")
    assert re.fullmatch(r"expired consents of \d+ subjects in \d+ events \(.*\)\n", out)


def test_demo_seed_loads_matchable_deals_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fresh_database_url: str
) -> None:
    import h3.api.basic_int as h3
    from fastapi.testclient import TestClient

    from geo_offers.app import create_app
    from tests.helpers import grant, make_settings, new_subject

    monkeypatch.setenv("GEO_OFFERS_DATABASE_URL", fresh_database_url)
    assert main(["demo", "seed"]) == 0
    first = capsys.readouterr()
    assert "6 stores, 10 deals" in first.err
    keys = dict(line.split() for line in first.out.splitlines()[1:])
    assert set(keys) == {"app", "merchant", "dpo", "admin"}
    assert main(["demo", "seed"]) == 0
    assert "already present" in capsys.readouterr().err
    app_headers = {"Authorization": f"Bearer {keys['app']}"}
    with TestClient(create_app(make_settings(fresh_database_url), log=False)) as client:
        version = client.get("/v1/notices/current", headers=app_headers).json()["version"]
        subject = new_subject()
        assert grant(client, app_headers, subject, version).status_code == 201
        kreuzberg = format(h3.latlng_to_cell(52.5010, 13.4205, 7), "x")
        body = {"subject_id": subject, "cell": kreuzberg, "categories": ["bakery"]}
        offers = client.post("/v1/offers/match", json=body, headers=app_headers).json()["offers"]
        assert [o["title"] for o in offers] == ["Croissant zum Kaffee"]
        merchant = {"Authorization": f"Bearer {keys['merchant']}"}
        assert len(client.get("/v1/stores", headers=merchant).json()["items"]) == 2


# --- finding the database, failing in one line ---------------------------------------------------------------------


def test_the_cli_finds_the_database_named_in_dotenv(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    """What scripts/demo leaves behind: a .env naming the database, and no variable in the environment."""
    monkeypatch.delenv("GEO_OFFERS_DATABASE_URL")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(f"GEO_OFFERS_DATABASE_URL='{database_url}'\n")
    merchant_id = _run(capsys, "merchants", "create", "Kiosk am Eck").strip()
    assert _run(capsys, "keys", "create", "--role", "merchant", "--merchant", merchant_id).startswith("gok_")
    monkeypatch.setenv("GEO_OFFERS_DATABASE_URL", "postgresql://postgres@127.0.0.1:18399/nowhere")
    assert main(["keys", "list"]) == 1  # the environment wins over the file
    assert "18399" in capsys.readouterr().err


def test_scripts_demo_writes_the_database_url_to_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shell half: remember_setting keeps other lines, replaces its own, and makes the file private."""
    (tmp_path / "scripts").mkdir()
    lib = Path(__file__).resolve().parents[1] / "scripts" / "lib.sh"
    (tmp_path / "scripts" / "lib.sh").write_text(lib.read_text())
    (tmp_path / ".env").write_text("GEO_OFFERS_K_ANONYMITY=25\nGEO_OFFERS_DATABASE_URL='postgresql:///old'\n")
    url = "postgresql://u:p@h:5432/geo_offers_demo"
    script = f'source scripts/lib.sh; remember_setting GEO_OFFERS_DATABASE_URL "{url}"'
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".env").read_text() == f"GEO_OFFERS_K_ANONYMITY=25\nGEO_OFFERS_DATABASE_URL='{url}'\n"
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0
    monkeypatch.delenv("GEO_OFFERS_DATABASE_URL")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.database_url == url and settings.k_anonymity == 25


def _one_line_failure(capsys: pytest.CaptureFixture[str], argv: list[str], status: int, *words: str) -> str:
    assert main(argv) == status
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1 and captured.err.startswith("geo-offers: error: ")
    assert all(word in captured.err for word in words), captured.err
    return captured.err


def test_an_unreachable_database_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    monkeypatch.setenv("GEO_OFFERS_DATABASE_URL", "postgresql://postgres:secret@127.0.0.1:18399/geo_offers")
    for argv in (["keys", "list"], ["db", "upgrade"], ["consent", "expire"], ["demo", "seed"]):
        err = _one_line_failure(capsys, argv, 1, "cannot use the database", "18399", "GEO_OFFERS_DATABASE_URL")
        assert "secret" not in err


def test_a_database_that_does_not_exist_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("GEO_OFFERS_DATABASE_URL", database_url.rsplit("/", 1)[0] + "/geo_offers_no_such_db")
    _one_line_failure(capsys, ["keys", "list"], 1, 'database "geo_offers_no_such_db" does not exist')


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["stores", "import", "/no/such/stores.csv", "--merchant", "1"], ["/no/such/stores.csv", "No such file"]),
        (["ledger", "keygen", "/no/such/folder/ledger.key"], ["No such file"]),
        (["keys", "revoke", "nothex"], ["key"]),
        (["db", "upgrade", "--revision", "nonesuch"], ["migration", "nonesuch"]),
        (["ledger", "checkpoint"], ["no ledger signing key"]),
    ],
)
def test_failures_are_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]
) -> None:
    _one_line_failure(capsys, argv, 1, *words)


def test_bad_settings_are_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEO_OFFERS_K_ANONYMITY", "many")
    _one_line_failure(capsys, ["keys", "list"], 1, "GEO_OFFERS_K_ANONYMITY")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["keys", "creat"], ["Did you mean 'create'"]),
        (["keys", "create"], ["--role", "app, merchant, dpo, admin"]),
        (["keys", "create", "--role", "root"], ["--role", "root"]),
        (["serve", "--port", "0"], ["--port"]),
        (["stores", "import", "x.csv", "--merchant", "seven"], ["--merchant"]),
        (["nonsense"], ["nonsense"]),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]
) -> None:
    _one_line_failure(capsys, argv, 2, "--help)", *words)


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    """The console script as a user runs it, database down: one line, exit 1."""
    env = {**os.environ, "GEO_OFFERS_DATABASE_URL": "postgresql://postgres@127.0.0.1:18399/geo_offers"}
    code = "import sys; from geo_offers.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", code, "keys", "list"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("geo-offers: error: cannot use the database")


def _commands(command: Any, path: str = "geo-offers") -> Iterator[tuple[str, Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, f"{path} {name}")


def test_every_command_and_option_says_what_it_does_in_plain_words() -> None:
    seen = []
    for path, command in _commands(typer.main.get_command(app)):
        assert command.help and command.help.strip(), f"{path} has no help"
        texts = [command.help, command.epilog or ""]
        for param in command.params:
            if param.name == "help" or getattr(param, "hidden", False):
                continue
            assert getattr(param, "help", None), f"{path} {param.name} has no help"
            texts.append(param.help)
        for text_ in texts:
            assert "`" not in text_, f"{path}: {text_!r}"
        seen.append(path)
    assert len(seen) == 23  # the root, 8 groups and 14 commands


def test_a_group_alone_prints_its_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "verify-export" in captured.err and "Check a ledger export offline" in captured.err


def test_every_option_is_spelled_in_lower_case() -> None:
    """Typer below 0.28 named an option after its metavar when both were the same word (``--ROLE ROLE``)."""
    wrong = [
        f"{path} {name}"
        for path, command in _commands(typer.main.get_command(app))
        for param in command.params
        if isinstance(param, click.Option)
        for name in param.opts
        if name.startswith("--") and name != name.lower()
    ]
    assert not wrong
