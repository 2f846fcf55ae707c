"""The ``geo-offers`` command: what operators and scripts drive the service with.

Every command reads the same settings (``GEO_OFFERS_*``). Commands that create something print only the new
thing (an id or a key) on standard output, so a script can capture it; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from consent.errors import DomainError
from geo_offers.cli import demo, jobs, ledger, operator, serve, stores


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(prog="geo-offers", description=__doc__)
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    for module in (serve, operator, stores, demo, jobs, ledger):
        module.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit status 0 on success, 1 on a refused request, 2 on bad usage."""
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except DomainError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
