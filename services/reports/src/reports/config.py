from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from reports.domain.model import RECENT_IDS
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTS_", extra="ignore")

    http_port: int = 8003
    mongo_database: str = "partnerapp_reports"
    consumer_group: str = "reports"
    recent_event_ids: int = Field(
        default=RECENT_IDS,
        ge=0,
        le=5000,
        description="Telemetry event ids remembered per day and partition, to skip a terminal's re-send",
    )
    silent_days: int = Field(
        default=14,
        ge=1,
        le=3650,
        description="Silent seats: a licensed terminal silent for this many days (the report's default `days`)",
    )
