from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ACTIVITY_", extra="ignore")

    http_port: int = 8004
    role: Literal["ingest", "consumer", "all"] = Field(
        default="all",
        description="What this process does: `ingest` serves the HTTP API (terminals' ingest, the reads, "
        "license release), `consumer` stores what Kafka holds (and drops expired days); `all` both",
    )
    mongo_database: str = "partnerapp_activity"
    consumer_group: str = "activity"
    # Telemetry comes in volume: bigger batches pay the per-batch store round trips (terminal
    # states, one insert per day and shard) less often (bench: 0.46 → 0.65 of the raw pipe).
    consumer_max_batch: int = Field(default=2000, ge=1, le=10_000)
    retention_days: int = Field(
        default=4 * 365 + 1, ge=1, description="Days of activity kept (Spanish working-time records: four years)"
    )
    retention_check_seconds: float = Field(default=6 * 3600, gt=0)
    instances_url: str = Field(default="http://127.0.0.1:8001", description="The instances service (R-43)")
    # Field operations (issue #20)
    late_sync_threshold_s: int = Field(
        default=900, ge=0, description="A record received this many seconds after its terminal time is late"
    )
    working_time_retention_days: int = Field(
        default=4 * 365 + 1,
        ge=4 * 365 + 1,
        description="Days the working-time record is kept (never less than four years, whatever the telemetry's)",
    )
    position_gap_s: int = Field(
        default=600, ge=1, description="A silence over this many seconds between points is a gap"
    )
    action_overdue_s: int = Field(
        default=3600,
        ge=1,
        description="A remote action still requested (not delivered) after this many seconds is overdue",
    )
