"""geo-offers serve: run the HTTP service under uvicorn."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from geo_offers.kit.logs import configure_logging
from geo_offers.settings import Settings


def serve(
    host: Annotated[
        str, typer.Option(metavar="ADDRESS", help="The address to listen on; 0.0.0.0 listens on every interface.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, metavar="PORT", help="The TCP port to listen on.")
    ] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            metavar="N",
            help="Worker processes; they share one deal index (built once), each has its own database pool.",
        ),
    ] = 1,
) -> int:
    """Serve the HTTP API.

    Runs uvicorn; the interactive docs are at /docs. Ctrl-C stops it.
    """
    run_uvicorn("geo_offers.app:create_app_from_env", host=host, port=port, workers=workers)
    return 0


def run_uvicorn(factory: str, *, host: str, port: int, workers: int) -> None:
    """Start uvicorn with uvloop and httptools on an app factory ("module:function"); workers share metrics
    through a multiprocess directory."""
    import uvicorn

    # Every worker must know how many of them may count one person in an hour (Settings.counting_bound).
    os.environ["GEO_OFFERS_WORKERS"] = str(workers)
    settings = Settings()
    configure_logging(settings.log_level)
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = Path(tempfile.gettempdir()) / f"geo-offers-metrics-{os.getpid()}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        # uvicorn kills a worker that misses a 5 s health ping; a worker building a million-deal index on a
        # busy machine can miss one without being hung, and would then be restarted over and over.
        timeout_worker_healthcheck=60,
    )
