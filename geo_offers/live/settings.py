"""Settings of the live area streams (environment prefix ``GEO_OFFERS_``): bounds, heartbeats, resume depth."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LiveSettings(BaseSettings):
    """How many streams a worker holds, how often they beat, and how far back a resume may reach."""

    model_config = SettingsConfigDict(env_prefix="GEO_OFFERS_", extra="ignore")

    live_max_per_worker: int = Field(
        default=10_000, ge=1, description="Open live streams one worker holds; more answer 429 with Retry-After."
    )
    live_max_per_key: int = Field(
        default=5_000,
        ge=1,
        description="Open live streams of one app key in one worker (the app's installations share the key).",
    )
    live_heartbeat_s: float = Field(
        default=15.0, gt=0, le=300, description="Seconds between heartbeat comments on an idle stream."
    )
    live_queue_steps: int = Field(
        default=256,
        ge=1,
        description="Changes waiting for one slow stream; past that it gets a reload event and is closed.",
    )
    live_send_timeout_s: float = Field(
        default=30.0, gt=0, description="A stream whose client reads nothing for this long is closed."
    )
    live_resume_max_changes: int = Field(
        default=5_000,
        ge=1,
        description="Change rows a resume (Last-Event-ID) replays at most; further behind, the app reloads.",
    )
    live_retry_after_s: int = Field(default=5, ge=1, description="Retry-After of a stream refused by the bounds.")
