# Untested here: no Docker engine runs on our build machines (see README). Kept simple enough to be right.
FROM python:3.11-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml requirements.lock README.md ./
COPY geo_offers ./geo_offers
COPY consent ./consent
RUN /opt/venv/bin/pip install -c requirements.lock .

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 geo && useradd --system --uid 10001 --gid geo --no-create-home geo
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GEO_OFFERS_ENVIRONMENT=production
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
CMD ["geo-offers", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
