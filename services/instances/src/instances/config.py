from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INSTANCES_", extra="ignore")

    http_port: int = 8001
    mongo_database: str = "partnerapp_instances"
    consumer_group: str = "instances"
