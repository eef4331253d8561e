from __future__ import annotations

from pathlib import Path

from pydantic import Field, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from gateway.domain.map_tiles import tile_origin
from gateway.domain.webhooks import DEFAULT_SCHEDULE
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    http_port: int = 8000
    mongo_database: str = "partnerapp_gateway"
    consumer_group: str = Field(
        default="gateway",
        description="Every gateway replica must consume every notification: give each replica its own group.",
    )

    # Where the backing services answer.
    instances_url: HttpUrl = HttpUrl("http://127.0.0.1:8001")
    support_url: HttpUrl = HttpUrl("http://127.0.0.1:8002")
    reports_url: HttpUrl = HttpUrl("http://127.0.0.1:8003")
    activity_url: HttpUrl = HttpUrl("http://127.0.0.1:8004")
    backend_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    upload_max_bytes: int = Field(
        default=10 * 1024 * 1024 + 64 * 1024,
        ge=1024,
        description="An upload route's largest body (support's attachment setting plus the multipart framing).",
    )
    optional_part_timeout_seconds: float = Field(
        default=1.5, gt=0, le=30, description="A composed response gives up on an optional part after this long."
    )

    # Signing the access tokens every service verifies (Ed25519 PEM; a development key is generated locally).
    token_private_key: SecretStr | None = None
    token_private_key_file: Path | None = None
    access_token_minutes: int = Field(default=10, ge=1, le=60)
    refresh_token_days: int = Field(default=14, ge=1, le=90)

    # The per-call check from memory (service_layer.access).
    access_staleness_seconds: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description="A logout, password or partner change reaches every replica within this; "
        "a replica whose change log read is older answers from the store.",
    )
    access_poll_seconds: float = Field(
        default=0.2, gt=0, le=5, description="How often each replica reads the change log (below the staleness)."
    )

    # Login protection.
    login_max_failures: int = Field(default=5, ge=1, description="Consecutive failures before the account locks.")
    login_lockout_minutes: int = Field(default=15, ge=1)
    login_attempts_per_minute: int = Field(default=20, ge=1, description="Per client address, any account.")
    ingest_requests_per_second: int = Field(default=200, ge=1, description="Per ingest key, through the gateway.")

    # Notifications.
    notification_retention_hours: int = Field(default=48, ge=1, description="How far back Last-Event-ID can resume.")
    sse_keepalive_seconds: float = Field(default=15.0, gt=0)
    vapid_private_key_file: Path | None = Field(default=None, description="Web Push signing key (PEM, P-256).")
    vapid_subject: str = "mailto:support@partnerapp.example"

    # Webhooks (#19).
    webhook_dispatcher: bool = Field(
        default=True,
        description="This replica consumes the events and sends the deliveries. Keep ONE on FerretDB "
        "(its concurrent updates are weak); on MongoDB several are safe (deliveries are leased).",
    )
    webhook_consumer_group: str = Field(
        default="gateway-webhooks", description="The dispatcher's own group: its offsets are not the notifications'."
    )
    webhooks_allow_private: bool = Field(
        default=False,
        description="Development and tests: http URLs and private or loopback targets are allowed.",
    )
    webhook_secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key encrypting the subscriptions' signing secrets; "
        "default: derived from the token signing key.",
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_retry_schedule_seconds: list[float] = Field(
        default_factory=lambda: list(DEFAULT_SCHEDULE),
        min_length=1,
        description="Upper bound of each wait between attempts (each drawn from its upper half).",
    )
    webhook_max_parallel: int = Field(default=32, ge=1, le=1000, description="Deliveries in flight, all endpoints.")
    webhook_pause_after_failures: int = Field(
        default=0, ge=0, description="Consecutive failed attempts that pause a subscription (0: when one is given up)."
    )
    webhook_log_retention_days: int = Field(
        default=30, ge=1, le=400, description="How long succeeded and failed deliveries stay in the log."
    )
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    webhook_lease_seconds: float = Field(
        default=0, ge=0, description="How long a claimed delivery stays a sender's (0: three timeouts)."
    )

    web_dir: Path | None = Field(default=None, description="The built web app (web/dist) to serve at `/`, if any.")
    # The activity map's raster tiles: any OpenStreetMap-compatible server, e.g. a vendor's own. The
    # web app reads them from `/config.json`; the Content-Security-Policy allows that origin's images.
    map_tile_url: str = Field(
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="URL template of the map's tiles ({z}/{x}/{y}, optional leading {s}. subdomain)",
    )
    map_attribution: str = Field(
        default='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        max_length=500,
        description="The tiles' licence and source, shown in the map's corner",
    )
    map_max_zoom: int = Field(default=19, ge=1, le=24)

    @field_validator("map_tile_url")
    @classmethod
    def _tile_url_has_an_origin(cls, value: str) -> str:
        tile_origin(value)  # raises on a template that is not http(s) with a host
        return value

    @model_validator(mode="after")
    def _poll_within_the_bound(self) -> Settings:
        if self.access_poll_seconds >= self.access_staleness_seconds:
            raise ValueError("access_poll_seconds must be below access_staleness_seconds")
        return self

    def signing_key(self) -> str | None:
        if self.token_private_key:
            return self.token_private_key.get_secret_value()
        if self.token_private_key_file:
            return self.token_private_key_file.read_text()
        return None
