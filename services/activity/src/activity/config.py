from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ACTIVITY_", extra="ignore")

    http_port: int = 8004
    mongo_database: str = "partnerapp_activity"
    consumer_group: str = "activity"
