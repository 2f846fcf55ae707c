"""Settings of the service, read from the environment (prefix ``GEO_OFFERS_``).

A ``.env`` file in the current folder may hold the same variables (``scripts/demo`` writes the demo database's URL
there, so the command line finds it); a variable set in the environment wins over the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, StringConstraints, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from consent.settings import ConsentSettings
from geo_offers.codes.settings import CodeSettings
from geo_offers.live.settings import LiveSettings


class Settings(BaseSettings):
    """Everything the service reads from its environment; one instance is handed to ``create_app``."""

    model_config = SettingsConfigDict(
        env_prefix="GEO_OFFERS_", extra="ignore", env_file=".env", env_file_encoding="utf-8"
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/geo_offers"
    database_role: str = Field(
        default="geo_offers_app",
        description="Role taken with SET ROLE after connecting, so the service runs with least privilege "
        "(no UPDATE/DELETE on the ledger). Empty to keep the login role.",
        pattern=r"^$|^[a-z_][a-z0-9_]{0,62}$",
    )
    db_pool_size: int = Field(default=8, ge=1, le=100)
    db_statement_timeout_ms: int = Field(default=5000, ge=100)
    db_connect_timeout_s: int = Field(default=3, ge=1, le=60)
    db_keepalive_idle_s: int = Field(
        default=5, ge=1, le=3600, description="Idle seconds before TCP keepalive probes start (every connection)."
    )
    db_tcp_user_timeout_ms: int = Field(
        default=5000,
        ge=0,
        description="TCP_USER_TIMEOUT of every connection: sent data unacknowledged this long drops it (a host "
        "gone from the network). 0 keeps the system's default.",
    )
    read_database_url: str | None = Field(
        default=None,
        description="A streaming standby (or any read-only copy) for what may read slightly old data: the deal "
        "index load and its change feed, the area catalogue, insight figures. Unset: everything reads from "
        "database_url. The consent gate, keys and every write always use database_url.",
    )
    read_fallback: bool = Field(
        default=True,
        description="While the read database cannot be reached, read from database_url instead (off: answer 503).",
    )
    max_replica_lag_seconds: float = Field(
        default=5.0, gt=0, description="/readyz answers 503 while the read database is further behind than this."
    )
    replica_lag_probe_s: float = Field(default=0.5, gt=0, le=60, description="How often the lag is measured.")
    request_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Every request that has not started its answer after this long gets 503 problem+json "
        "(a database that stops answering without closing its connections must not hang clients).",
    )

    index_res: int = Field(default=8, ge=5, le=9, description="H3 resolution of deal coverage cells.")
    index_load_timeout_s: float = Field(default=120.0, gt=0, description="How long start-up waits for the index.")
    index_poll_s: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="How often each worker looks for deal changes without a notification (the only way on a standby).",
    )
    index_shared: bool = Field(
        default=True,
        description="Build the deal index once per machine into a snapshot file that every worker maps read-only "
        "(else each worker loads its own copy).",
    )
    index_dir: Path | None = Field(
        default=None,
        description="Directory of the shared index snapshots (a tmpfs; mode 700). Unset: $XDG_RUNTIME_DIR/geo-offers, "
        "else /dev/shm/geo-offers-UID. Snapshots are kept across restarts and checked before use.",
    )
    match_fast_path: bool = Field(
        default=True, description="Serve POST /v1/offers/match from an ASGI fast path (same checks and answers)."
    )
    gc_freeze: bool = Field(
        default=True,
        description="After start-up, move every object then alive out of the garbage collector's passes "
        "(shorter, rarer pauses under load; off in the test suite, which starts many apps in one process).",
    )
    openapi_at_start: bool = Field(
        default=True,
        description="Build the OpenAPI document (which the request-rule middleware reads) before serving rather than "
        "in the first request with a query string (a second or more of CPU on the event loop; off in the test "
        "suite, which starts many apps in one process).",
    )
    match_cache_entries: int = Field(default=10_000, ge=0, description="Cached match answers per worker.")
    area_min_res: int = Field(default=3, ge=0, le=5, description="Coarsest cell the area catalogue serves.")
    area_max_age_s: int = Field(default=60, ge=0, description="Cache-Control max-age of area catalogues.")
    area_cap_km2: float = Field(default=10_000.0, gt=0)
    k_anonymity: int = Field(default=20, ge=2, description="People a published insight figure must rest on.")
    dp_epsilon: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description="Differential-privacy budget of one insight release (all its figures), per person and hour of "
        "activity.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="Worker processes of this instance. `geo-offers serve --workers N` sets it for its workers; "
        "set it yourself when starting the app under another server.",
    )
    instances: int = Field(
        default=1, ge=1, le=100_000, description="Instances (machines, containers) that count into the same database."
    )
    counting_processes: int | None = Field(
        default=None,
        ge=1,
        le=100_000_000,
        description="P: how many processes may count one person in one hour (each keeps its own hourly "
        "de-duplication). Default workers x instances; never fewer. Noise and suppression are calibrated to it.",
    )
    retention_days: int = Field(default=90, ge=1, description="Days hourly counters are kept before roll-up.")
    deal_changes_kept_h: int = Field(
        default=24,
        ge=1,
        description="Hours the retention job keeps deal change rows (a worker further behind loads everything again).",
    )
    retention_daily_days: int = Field(default=730, ge=1, description="Days daily counters are kept.")
    insights_weeks: int = Field(default=4, ge=1, le=52, description="Complete weeks an hour-of-week figure covers.")
    insights_settle_s: int = Field(
        default=600, ge=0, description="A period is published once it ended this long ago (late counter flushes)."
    )
    activity_coarsest_res: int = Field(default=4, ge=0, le=6, description="Coarsest cell the activity insight takes.")
    counter_flush_s: float = Field(default=5.0, gt=0, le=300, description="How often each worker writes its counts.")

    import_timeout_s: float = Field(
        default=300.0, gt=0, description="The request deadline of bulk imports (request_timeout_s for the rest)."
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    import_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    key_cache_ttl_s: float = Field(default=10.0, ge=0)
    rate_limit_per_s: float = Field(default=2000.0, gt=0, description="Sustained requests per second per key.")
    rate_limit_burst: int = Field(default=4000, ge=1)

    ledger_signing_key_file: Path | None = Field(
        default=None,
        description="Ed25519 private key (PEM) that signs ledger checkpoints; kept outside the DB.",
    )
    ledger_signing_key: SecretStr | None = Field(
        default=None,
        description="The same key from a secret store instead of a file: PEM, or the 32-byte seed in hex or base64.",
    )
    ledger_public_key: str | None = Field(
        default=None,
        description="The published Ed25519 public key (PEM, hex or base64) that checkpoints must be signed with; "
        "the ledger check pins it. Unset: each checkpoint is checked against its own key only.",
    )
    controller: str = Field(default="", description="Controller's name and address for the processing record.")
    dpo_contact: str = Field(default="", description="Contact of the data-protection officer (processing record).")
    jurisdictions: list[Annotated[str, StringConstraints(pattern=r"^(EU|EEA|[A-Z]{2})$")]] = Field(
        default_factory=lambda: ["EU"],
        min_length=1,
        description="Where the processing is under law, as ISO 3166 codes (or EU, EEA) of the DPV location "
        'extension; named by every consent record. JSON list in the environment, e.g. \'["EU", "DE"]\'.',
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_log: bool = Field(
        default=False,
        description="One JSON line per request (route template, status, duration; never IPs or raw paths). "
        "Off by default: aggregated metrics at /metrics cover operations without per-request records.",
    )

    console_tile_url: str = Field(
        default="",
        description="Map tiles for the console, such as https://tile.example.org/{z}/{x}/{y}.png (its origin is "
        "added to the console's Content-Security-Policy). Empty: the map draws on a plain background with the "
        "shipped country outline, and the page asks no one but the service.",
        pattern=r"^$|^https?://[^/\s'\";]+/\S*$",
    )
    console_tile_attribution: str = Field(default="", max_length=300, description="Attribution text of the tiles.")
    console_session_hours: float = Field(default=8.0, gt=0, le=24 * 30, description="Longest console session.")
    console_idle_minutes: float = Field(default=30.0, gt=0, description="Console sessions end after this much idling.")

    consent: ConsentSettings = Field(default_factory=ConsentSettings)
    codes: CodeSettings = Field(default_factory=CodeSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)

    @property
    def counting_bound(self) -> int:
        """P: the most one person can add to one hourly counter (once in each process that may count them)."""
        return self.counting_processes if self.counting_processes is not None else self.workers * self.instances

    @model_validator(mode="after")
    def _safe_for_production(self) -> Self:
        if self.environment == "production":
            pepper = self.consent.pepper.get_secret_value()
            if self.consent.uses_dev_pepper or len(pepper) < 32:
                raise ValueError("GEO_OFFERS_PEPPER must be set to a secret of at least 32 characters in production")
        if self.ledger_signing_key_file is not None and self.ledger_signing_key is not None:
            raise ValueError("set either ledger_signing_key_file or ledger_signing_key, not both")
        # Hour-of-week figures read the last complete weeks of hourly counters (up to a week and the settling
        # time back): none of it may be deleted while they are shown, or their fixed noise could be cancelled.
        if (self.insights_weeks + 1) * 7 + 1 > self.retention_days:
            raise ValueError("retention_days must exceed (insights_weeks + 1) * 7 + 1 days")
        if self.retention_daily_days < self.retention_days:
            raise ValueError("retention_daily_days must not be shorter than retention_days")
        if self.counting_processes is not None and self.counting_processes < self.workers * self.instances:
            raise ValueError(
                "counting_processes must be at least workers x instances: each of those processes may count a person"
            )
        if self.index_res < self.consent.max_precision_res:
            raise ValueError("index_res must be at least as fine as consent.max_precision_res")
        return self
