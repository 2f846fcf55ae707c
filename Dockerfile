# Tested by scripts/docker-check: it builds this file with podman (a local stand-in for the base image where no
# registry is reachable), then migrates a fresh PostGIS database and serves /readyz from the image's filesystem
# as its non-root user. `python` works in python:3.11-slim (/usr/local/bin) and in Debian (python-is-python3).
FROM python:3.11-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml requirements.lock README.md ./
COPY geo_offers ./geo_offers
COPY consent ./consent
# A real install (not editable): the wheels bring their own GEOS (shapely), H3, libpq (psycopg2-binary) and
# OpenSSL (cryptography), so the runtime image needs no system package beyond Python.
RUN /opt/venv/bin/pip install -c requirements.lock .

FROM python:3.11-slim-bookworm
# WORKDIR first: the RUN below then creates /app in the image (buildah makes a WORKDIR only when a step uses it).
WORKDIR /app
RUN groupadd --system --gid 10001 geo && useradd --system --uid 10001 --gid geo --no-create-home geo
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GEO_OFFERS_ENVIRONMENT=production
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
CMD ["geo-offers", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
