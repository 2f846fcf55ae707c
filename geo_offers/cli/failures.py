"""How the command reports a failure: one line on stderr and an exit status, never a traceback.

Exit statuses: 0 done, 1 refused or failed (the database, a file, the input, a check), 2 the command line itself
was wrong. An error nobody foresaw is a bug: it still gets one line (its type and message), and the traceback is
shown only when ``GEO_OFFERS_LOG_LEVEL=DEBUG`` asks for it.
"""

from __future__ import annotations

import os
import traceback

import sqlalchemy.exc
import typer
from alembic.util.exc import CommandError
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from consent.errors import DomainError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DATABASE_HINT = (
    "set GEO_OFFERS_DATABASE_URL, or run from the folder whose .env names the database (scripts/demo writes one)"
)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " ".join(lines[0].split()) if lines else ""


def _database_url() -> str:
    """The configured database URL without its password, for messages; '' when the settings cannot be read."""
    from geo_offers.settings import Settings

    try:
        return make_url(Settings().database_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a message helper must not fail while reporting another failure
        return ""


def _driver_message(error: sqlalchemy.exc.DBAPIError) -> str:
    message = _first_line(str(error.orig))
    return message.removeprefix("FATAL: ").replace("FATAL: ", "")


def _settings_message(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"] if isinstance(part, str)).upper()
        parts.append(f"GEO_OFFERS_{name}: {item['msg']}" if name else str(item["msg"]))
    return "invalid settings: " + "; ".join(parts)


def describe(error: BaseException) -> tuple[str, int]:
    """The one line (without the ``error:`` prefix) and the exit status for an error that ended a command."""
    if isinstance(error, typer.TyperException):  # the command line (Typer's usage errors have exit code 2)
        ctx = getattr(error, "ctx", None)
        where = f" (see {ctx.command_path if ctx is not None else 'geo-offers'} --help)"
        message = " ".join(error.format_message().split())  # Typer lists choices on lines of their own
        return f"{message}{where}", error.exit_code
    if isinstance(error, DomainError):
        return error.detail, EXIT_FAILED
    if isinstance(error, sqlalchemy.exc.OperationalError):
        return f"cannot use the database {_database_url()}: {_driver_message(error)}; {DATABASE_HINT}", EXIT_FAILED
    if isinstance(error, sqlalchemy.exc.ProgrammingError) and "does not exist" in str(error.orig):
        missing = _driver_message(error)
        return f"the database has no geo-offers schema yet ({missing}); run geo-offers db upgrade", EXIT_FAILED
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        return f"database error: {_driver_message(error)}", EXIT_FAILED
    if isinstance(error, sqlalchemy.exc.ArgumentError):
        return f"GEO_OFFERS_DATABASE_URL is not a database URL: {_first_line(str(error))}", EXIT_FAILED
    if isinstance(error, ValidationError):
        return _settings_message(error), EXIT_FAILED
    if isinstance(error, CommandError):  # alembic: an unknown revision and the like
        return f"migration: {_first_line(str(error))}", EXIT_FAILED
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or error}", EXIT_FAILED
    if isinstance(error, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED
    bug = f"unexpected {type(error).__name__}: {_first_line(str(error))}"
    return f"{bug} (a bug; GEO_OFFERS_LOG_LEVEL=DEBUG shows the traceback)", EXIT_FAILED


def report(error: BaseException, prog: str = "geo-offers") -> int:
    """Print the one line for ``error`` on stderr (and, when asked for, the traceback); return the exit status."""
    line, status = describe(error)
    if os.environ.get("GEO_OFFERS_LOG_LEVEL", "").upper() == "DEBUG":
        traceback.print_exception(error)
    typer.echo(f"{prog}: error: {line}", err=True)
    return status
