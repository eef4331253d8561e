"""Request and response bodies of the gateway's own routes (auth, profile, partners, audit)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
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
