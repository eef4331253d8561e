"""Settings every service shares, read from the environment (pydantic-settings).

Platform-wide values (where Kafka and Mongo are, the token verification key) carry the
`PARTNERAPP_` prefix and are the same for every service; a service's own values carry its own
prefix (`ACTIVITY_HTTP_PORT`, ...). Defaults are safe for a local run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARTNERAPP_", extra="ignore")

    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", description="host:port of brokers, comma-separated.")
    kafka_request_timeout_ms: int = Field(
        default=15_000,
        ge=1_000,
        description="How long a produce or fetch waits for a broker before it fails (aiokafka's default is 40 s): "
        "a broker that stops answering costs an ingest request this long before its 503.",
    )
    mongo_url: SecretStr = SecretStr("mongodb://127.0.0.1:27017/")
    topic_prefix: str = Field(
        default="",
        pattern=r"^[a-zA-Z0-9._-]*$",
        description="Prepended to every topic name; lets test runs use topics of their own.",
    )
    auth_public_key: str | None = Field(default=None, description="PEM of the token verification key.")
    auth_public_key_file: Path | None = Field(default=None, description="File holding that PEM.")
    auth_issuer: str = "partnerapp-gateway"
    auth_audience: str = "partnerapp"
    pdf_font_dirs: Annotated[tuple[Path, ...], NoDecode] = Field(
        default=(Path("/usr/share/fonts"),),
        description="Folders searched (with their subfolders) for the PDF fonts, separated like PATH.",
    )

    @field_validator("pdf_font_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: Any) -> Any:
        # One environment variable, separated like PATH: PARTNERAPP_PDF_FONT_DIRS=/usr/share/fonts:/opt/fonts
        return tuple(part for part in value.split(os.pathsep) if part) if isinstance(value, str) else value

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def kafka_bootstrap_list(self) -> list[str]:
        """The brokers one by one: FastStream takes a string as one host (aiokafka itself splits it)."""
        return [part.strip() for part in self.kafka_bootstrap_servers.split(",") if part.strip()]

    def verification_key(self) -> str | None:
        if self.auth_public_key:
            return self.auth_public_key
        if self.auth_public_key_file:
            return self.auth_public_key_file.read_text()
        return None


class ServiceSettings(BaseSettings):
    """Base of each service's `config.Settings`; subclasses set `env_prefix` and defaults."""

    model_config = SettingsConfigDict(extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    mongo_database: str = ""
    consumer_group: str = ""
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    consumer_max_attempts: int = Field(default=3, ge=1, le=20)
    consumer_max_batch: int = Field(
        default=500, ge=1, le=10_000, description="Records handed to the handlers at most per batch"
    )
    outbox_scan_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Full scan for pending events; this process's writes are relayed at once",
    )
    outbox_relay: bool = Field(
        default=True,
        description="Run the outbox relay in this process; off only to test a crash between write and publish",
    )
    inbox_retention_hours: float = Field(default=7 * 24, gt=0, description="How long applied event ids are kept")
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    platform: PlatformSettings = Field(default_factory=PlatformSettings)

    @model_validator(mode="after")
    def _names_required(self) -> ServiceSettings:
        if not self.mongo_database or not self.consumer_group:
            raise ValueError("a service must set mongo_database and consumer_group")
        return self
