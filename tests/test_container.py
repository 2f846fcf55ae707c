"""The container files agree with the code: what can be checked without building the image.

Building and running it is scripts/docker-check (root, apt, podman, minutes), which is not part of the suite.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from consent.settings import ConsentSettings
from geo_offers.cli import app
from geo_offers.codes.settings import CodeSettings
from geo_offers.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _builder_copies() -> set[str]:
    """Sources the first stage copies from the build context (not --from another stage)."""
    stages = [i for i, (op, _) in enumerate(_instructions()) if op == "FROM"]
    first = _instructions()[stages[0] : stages[1]]
    return {
        src.rstrip("/")
        for op, args in first
        if op == "COPY" and not args.startswith("--from")
        for src in shlex.split(args)[:-1]
    }


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _parse_cli(argv: list[str]) -> None:
    """Parse a geo-offers command line exactly as the command would, without running it."""
    command: Any = typer.main.get_command(app)
    words = list(argv)
    while hasattr(command, "commands"):  # geo-offers has no options before its subcommands
        assert words and words[0] in command.commands, f"no command {words[:1]} in geo-offers {' '.join(argv)}"
        command = command.commands[words.pop(0)]
    command.make_context(" ".join(["geo-offers", *argv[: len(argv) - len(words)]]), words)


def _geo_offers_commands(argv: list[str]) -> list[list[str]]:
    """The geo-offers invocations in an exec-form command (also inside `sh -c "a && b"`)."""
    if argv[:2] == ["sh", "-c"]:
        return [words[1:] for part in argv[2].split("&&") if (words := shlex.split(part))[0] == "geo-offers"]
    return [argv[1:]] if argv[0] == "geo-offers" else []


def _setting_names() -> set[str]:
    fields = {*Settings.model_fields, *ConsentSettings.model_fields, *CodeSettings.model_fields}
    return {f"GEO_OFFERS_{name.upper()}" for name in fields}


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_the_image_is_built_from_every_package_and_file_the_build_needs() -> None:
    pyproject = _pyproject()
    packages = {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    needed = packages | {"pyproject.toml", "requirements.lock", pyproject["project"]["readme"]}
    assert needed <= _builder_copies()


def test_the_build_context_keeps_what_the_image_copies() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {".git", ".venv", ".local", ".env"} <= set(patterns)
    kept_out = {src for src in _builder_copies() for pattern in patterns if fnmatch.fnmatch(src, pattern)}
    assert kept_out == set()


def test_the_image_command_is_a_valid_geo_offers_command_line() -> None:
    (cmd,) = [json.loads(args) for op, args in _instructions() if op == "CMD"]
    assert cmd[:2] == ["geo-offers", "serve"]
    _parse_cli(cmd[1:])


def test_the_compose_commands_are_valid_geo_offers_command_lines() -> None:
    commands = [
        argv
        for service in _compose()["services"].values()
        if "command" in service
        for argv in _geo_offers_commands(service["command"])
    ]
    assert ["db", "upgrade"] in commands
    for argv in commands:
        _parse_cli(argv)


def test_the_image_and_compose_set_only_settings_the_service_reads() -> None:
    names = {args.split("=", 1)[0] for op, args in _instructions() if op == "ENV" for args in shlex.split(args)}
    for service in _compose()["services"].values():
        names |= set(service.get("environment", {}))
    ours = {name for name in names if name.startswith("GEO_OFFERS_")}
    assert "GEO_OFFERS_DATABASE_URL" in ours
    assert ours - _setting_names() == set()


@pytest.mark.parametrize("argv", [["serve", "--port", "8000"], ["db", "upgrade", "--revision", "head"]])
def test_the_command_line_parser_of_these_tests_refuses_what_the_command_refuses(argv: list[str]) -> None:
    _parse_cli(argv)
    with pytest.raises(Exception, match="No such option"):
        _parse_cli([*argv, "--nonesuch"])


def test_docker_check_is_valid_bash() -> None:
    done = subprocess.run(["bash", "-n", str(ROOT / "scripts" / "docker-check")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
