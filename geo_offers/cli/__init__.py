"""The geo-offers command: what operators and scripts drive the service with.

Built with Typer: each command is one typed function whose parameters are its options, each with its help beside
it, as FastAPI routes declare their query parameters; Typer turns wrong command lines into clear messages (with
"did you mean"). ``main`` runs it without Typer's own exit handling, so that every failure, a usage error
included, becomes one line on stderr and an exit status (``failures``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from click.exceptions import NoArgsIsHelpError

from geo_offers.cli import demo, failures, jobs, ledger, operator, serve, stores

HELP = """Operate a geo-offers service: migrate its database, create merchants and keys, import stores, run the
periodic jobs, sign and verify the consent ledger, serve the API.

Settings come from GEO_OFFERS_* environment variables, or from a .env file in the current folder (scripts/demo
writes one naming its database). Commands that create something print only the new thing on stdout; messages go
to stderr. Exit status: 0 done, 1 refused or failed (one line on stderr says why), 2 wrong command line."""

app = typer.Typer(
    name="geo-offers",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
app.command("serve")(serve.serve)
for group in (operator.db, operator.merchants, operator.keys, stores.group, demo.group, jobs.consent, jobs.retention):
    app.add_typer(group, name=group.info.name)
app.add_typer(ledger.group, name=ledger.group.info.name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command with ``argv`` (default: the process's arguments) and return its exit status."""
    command = typer.main.get_command(app)
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        status = command.main(args=args, prog_name="geo-offers", standalone_mode=False)
    except NoArgsIsHelpError as error:  # a command group alone: its help, as a usage error
        error.show()
        return failures.EXIT_USAGE
    except (Exception, KeyboardInterrupt) as error:  # every failure becomes one line: see failures.describe
        return failures.report(error)
    return status if isinstance(status, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
