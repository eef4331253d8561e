"""Request and response bodies of the gateway's own routes (auth, profile, partners, audit)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from gateway.domain.model import Language
from servicekit.api import PageOut, ResponseModel

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class LoginIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "ana@partner.example", "password": "correct horse battery"}]},
    )
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=1, max_length=256)
    partner_id: Id | None = Field(default=None, description="Staff: the partner to act for (R-11); default the first.")


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=10, max_length=200)
    partner_id: Id | None = Field(default=None, description="Switch the acting partner (staff, R-11).")


class UserOut(ResponseModel):
    id: str
    email: str
    name: str
    role: Literal["partner", "staff"]
    partner_ids: list[str]
    language: Language
    phone: str | None


class TokensOut(ResponseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSIs…",
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "refresh_token": "prt_ses_x1Y2z3.…",
                    "partner_id": "ptn-demo",
                    "user": {
                        "id": "usr-ana",
                        "email": "ana@partner.example",
                        "name": "Ana",
                        "role": "partner",
                        "partner_ids": ["ptn-demo"],
                        "language": "es",
                        "phone": None,
                    },
                }
            ]
        }
    )
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    refresh_token: str
    partner_id: str
    user: UserOut


# A merge patch's required field not sent (never None once sent: an explicit null is a 422 naming it).
NOT_SENT: Any = None


class ProfileIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "description": (
                "JSON Merge Patch (RFC 7396), as `application/merge-patch+json` or `application/json`: a field "
                "not sent keeps its value; `phone: null` (or an empty phone) clears it; `name` and `language` "
                "are required, so `null` for them is a 422 and nothing changes."
            ),
            "examples": [{"name": "Ana Ruiz", "language": "en"}],
        },
    )
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        default=NOT_SENT
    )
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32, pattern=r"^[0-9+() .-]*$")] | None = (
        None
    )
    language: Language = Field(default=NOT_SENT)

    @field_validator("name", "language", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            raise PydanticCustomError("not_null", "must not be null: {field} is required", {"field": info.field_name})
        return value


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class PartnerOut(ResponseModel):
    id: str
    name: str
    acting: bool


class AuditOut(ResponseModel):
    at: datetime
    user_id: str | None
    partner_id: str | None
    action: str
    target_id: str | None
    status: int
    client: str | None
    correlation_id: str | None


class AuditPage(PageOut[AuditOut]): ...


# ---------------------------------------------------------------------- webhooks (#19)

WebhookStatus = Literal["active", "paused", "failing_paused"]
DeliveryOutcome = Literal["pending", "succeeded", "failed"]


class WebhookEventTypeOut(ResponseModel):
    type: str
    description: str


class WebhookEventTypesOut(BaseModel):
    items: list[WebhookEventTypeOut]


class WebhookIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "partner_id": "ptn-demo",
                    "url": "https://billing.partner.example/hooks/partnerapp",
                    "event_types": ["instance.provisioned", "license.revoked"],
                    "description": "Billing",
                }
            ]
        },
    )
    partner_id: Id
    url: str = Field(min_length=1, max_length=2000, description="https (http to loopback only in development).")
    event_types: list[str] = Field(min_length=1, max_length=50, description="From `GET /api/v1/webhooks/event-types`.")
    instance_id: Id | None = Field(default=None, description="Only this instance's events.")
    description: str = Field(default="", max_length=200)
    active: bool = True


class WebhookPatchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "description": "JSON Merge Patch (RFC 7396): a field not sent keeps its value; `instance_id: null` "
            "removes the instance filter; `status: active` re-activates (and resets the failure count).",
            "examples": [{"status": "active"}],
        },
    )
    url: str = Field(default=NOT_SENT, min_length=1, max_length=2000)
    event_types: list[str] = Field(default=NOT_SENT, min_length=1, max_length=50)
    instance_id: Id | None = None
    description: str | None = Field(default=None, max_length=200)
    status: Literal["active", "paused"] = Field(default=NOT_SENT)

    @field_validator("url", "event_types", "status", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            raise PydanticCustomError("not_null", "must not be null: {field} is required", {"field": info.field_name})
        return value


class WebhookOut(ResponseModel):
    id: str
    partner_id: str
    url: str
    event_types: list[str]
    instance_id: str | None
    description: str
    status: WebhookStatus
    paused_reason: str | None
    consecutive_failures: int
    secret_hint: str = Field(description="The secret's first characters, to tell secrets apart.")
    created_at: datetime
    updated_at: datetime
    created_by: str


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="`whsec_<base64>`: shown this once; sign-verify deliveries with it.")


class WebhookPage(PageOut[WebhookOut]): ...


class SecretRotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlap_hours: int = Field(default=24, ge=0, le=168, description="How long the previous secret keeps signing.")


class SecretRotationOut(BaseModel):
    secret: str
    previous_secret_expires_at: datetime | None


class DeliveryAttemptOut(ResponseModel):
    at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str = Field(max_length=1024)
    error: str | None


class DeliveryOut(ResponseModel):
    id: str
    subscription_id: str
    event_id: str = Field(description="The CloudEvent id, sent as `webhook-id`: the receiver's idempotency key.")
    event_type: str
    outcome: DeliveryOutcome
    attempt_count: int
    next_attempt_at: datetime | None
    created_at: datetime
    last_status_code: int | None
    attempts: list[DeliveryAttemptOut]


class DeliveryPage(PageOut[DeliveryOut]): ...


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: AwareDatetime = Field(description="Deliveries created at or after this moment.")
    outcome: Literal["failed"] = "failed"


class ReplayedOut(BaseModel):
    replayed: int
