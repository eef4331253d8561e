from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INSTANCES_", extra="ignore")

    http_port: int = 8001
    mongo_database: str = "partnerapp_instances"
    consumer_group: str = "instances"

    vendor_name: str = "Vendor Software S.L."
    vendor_tax_id: str = "B00000000"
    vendor_address: str = "Paseo de la Castellana 1, 28046 Madrid (Madrid), ES"
    vendor_contact: str = Field(default="Partner desk", description="Who answers for the vendor on a contract")
    vendor_email: str = Field(default="partners@partnerapp.example", description="The vendor's contract e-mail")
    panel_url: str = Field(default="https://panel.partnerapp.example", description="The vendor's web panel")
    impersonation_key_file: Path | None = Field(default=None, description="PEM of the Ed25519 signing key")
    impersonation_key: str | None = None
    impersonation_ttl: timedelta = Field(default=timedelta(minutes=5), le=timedelta(minutes=15))

    def impersonation_pem(self) -> str | None:
        if self.impersonation_key:
            return self.impersonation_key
        return self.impersonation_key_file.read_text() if self.impersonation_key_file else None
