"""The package is self-contained: a built wheel, installed (not editable), migrates a fresh database by itself."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import psycopg2
import pytest

from geo_offers.kit.migrate import head_revision
from tests.helpers import make_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("geo_offers-*.whl")
    return built


def test_the_wheel_carries_the_migrations(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "geo_offers/migrations/env.py" in names
    assert "geo_offers/migrations/script.py.mako" in names
    revisions = [n for n in names if n.startswith("geo_offers/migrations/versions/") and n.endswith(".py")]
    on_disk = sorted((ROOT / "geo_offers" / "migrations" / "versions").glob("*.py"))
    assert len(revisions) == len(on_disk) > 0


def test_the_wheel_carries_the_console(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    console = ROOT / "geo_offers" / "console"
    shipped = [p for sub in ("templates", "static", "locales") for p in (console / sub).rglob("*") if p.is_file()]
    assert shipped and {str(p.relative_to(ROOT)) for p in shipped} <= names


@pytest.mark.slow
def test_an_installed_wheel_migrates_an_empty_database(wheel: Path, fresh_database_url: str, tmp_path: Path) -> None:
    # A fresh virtual environment with the wheel installed for real; its dependencies come from the test
    # environment's site-packages through a .pth line (not its editable install, which only a .pth *file*
    # there would load). It runs from a directory with no repository in sight and no setting but the URL.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    target = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(target, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)  # a wheel is a zip of its installed files: this is the install, minus scripts
    empty = _truncate_to_empty(fresh_database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_OFFERS_")}
    env["GEO_OFFERS_DATABASE_URL"] = empty
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [python, "-c", "import sys; from geo_offers.cli import main; sys.exit(main(['db', 'upgrade']))"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    where = subprocess.run(
        [python, "-c", "import geo_offers; print(geo_offers.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(target), where  # the installed copy ran, not the repository's
    conn = psycopg2.connect(empty)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT version_num FROM alembic_version")
            assert cur.fetchone() == (head_revision(make_settings(empty)),)
    finally:
        conn.close()


def _truncate_to_empty(url: str) -> str:
    """The fresh test database, emptied back to PostGIS alone (the fixture migrates it)."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public; CREATE EXTENSION postgis")
    finally:
        conn.close()
    return url
