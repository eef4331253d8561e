from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUPPORT_", extra="ignore")

    http_port: int = 8002
    mongo_database: str = "partnerapp_support"
    consumer_group: str = "support"
    attachment_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024, description="The largest attachment accepted"
    )
    unused_upload_sweep_seconds: float = Field(default=3600, gt=0, description="How often old unused uploads go")
    reindex_seconds: float = Field(
        default=30, gt=0, description="How often messages a crash left unindexed are indexed"
    )

    @property
    def upload_body_bytes(self) -> int:
        """An upload's request: the file plus its multipart framing."""
        return self.attachment_max_bytes + 64 * 1024
