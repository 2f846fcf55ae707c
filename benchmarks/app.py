"""The service as the benchmarks run it: the product app with the baseline routes of ``benchmarks.routes``."""

from __future__ import annotations

import argparse
import sys

from fastapi import FastAPI

from benchmarks import routes
from geo_offers.app import create_app
from geo_offers.cli.serve import run_uvicorn
from geo_offers.settings import Settings


def create_bench_app() -> FastAPI:
    """Factory for uvicorn: settings from the environment, plus ``/bench/trivial`` and ``/bench/naive-match``."""
    return create_app(Settings(), extra_routers=[routes.router])


def main() -> int:
    """``python -m benchmarks.app --port P --workers N``: serve it the way ``geo-offers serve`` serves the product."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    run_uvicorn("benchmarks.app:create_bench_app", host=args.host, port=args.port, workers=args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
