"""The gateway's own routes under `/api/v1`: auth, profile, partners, composed views, notifications, audit."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from gateway.domain.model import AccountLocked, AuthError, Language, PartnerNotAllowed, User, WeakPassword
from gateway.domain.rate_limit import RateLimiter
from gateway.service_layer.accounts import Accounts, Tokens
from gateway.service_layer.notifications import NotificationHub
from gateway.service_layer.ports import AuditLog, AuditQuery, PartnerDirectory
from gateway.service_layer.views import BackendRefused, BackendUnavailable, Views
from servicekit import merge_patch, openapi
from servicekit.auth import TokenVerifier
from servicekit.i18n import Language as I18nLanguage
from servicekit.i18n import as_language, negotiate
from servicekit.principal import Principal
from servicekit.problems import PROBLEM_MEDIA_TYPE, Problem, field_error, problem_response

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


@dataclass(frozen=True)
class Caller:
    """A verified user: who, for which partner, with which token (forwarded to the services)."""

    principal: Principal
    token: str
    session_id: str
    expires_at: datetime


async def authenticate(request: Request) -> Caller:
    verifier: TokenVerifier | None = request.app.state.token_verifier
    accounts: Accounts = request.app.state.accounts
    if verifier is None:
        raise Problem(503, "auth-not-configured", "Token verification is not configured on this gateway.")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "unauthorized", "A bearer access token is required.", headers=_BEARER)
    claims = verifier.claims(token.strip())
    principal = await accounts.authenticate(claims, verifier.principal_of(claims))
    request.state.principal = principal
    return Caller(principal, token.strip(), str(claims["sid"]), datetime.fromtimestamp(claims["exp"], UTC))


async def profile_language(request: Request) -> I18nLanguage | None:
    """A public route's caller's profile language when it sends a valid token; None otherwise
    (a public route answers an anonymous caller, or one whose token is stale, all the same)."""
    if not request.headers.get("Authorization"):
        return None
    try:
        caller = await authenticate(request)
    except (Problem, AuthError):
        return None
    accounts: Accounts = request.app.state.accounts
    return as_language((await accounts.profile(caller.principal.user_id)).language.value)


CurrentCaller = Annotated[Caller, Depends(authenticate)]
_BEARER = {"WWW-Authenticate": 'Bearer realm="partnerapp"'}


def require_staff(caller: CurrentCaller) -> Caller:
    if not caller.principal.is_staff:
        raise Problem(403, "staff-only", "This route is for the vendor's staff.")
    return caller


StaffCaller = Annotated[Caller, Depends(require_staff)]
# For the API document: which routes need the token, and how they answer without it.
openapi.describe_dependency(authenticate, security=openapi.BEARER, errors=(401, 503))
openapi.describe_dependency(require_staff, errors=(403,))


def _utc(value: datetime | None, field: str) -> datetime | None:
    """The instant in UTC, as the store compares it; with its offset, a time at either end of the
    calendar (`0001-01-01T00:00+23:59`) lies outside it: a 422 naming the field, not an overflow."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        message = "must lie between the years 1 and 9999 in UTC"
        error = field_error(field, "years_1_9999", message, where="query")
        raise Problem(422, "validation", f"`{field}` {message}.", errors=[error]) from exc


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


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    role: Literal["partner", "staff"]
    partner_ids: list[str]
    language: Language
    phone: str | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            partner_ids=list(user.partner_ids),
            language=user.language,
            phone=user.phone,
        )


class TokensOut(BaseModel):
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

    @classmethod
    def of(cls, tokens: Tokens) -> TokensOut:
        return cls(
            access_token=tokens.access_token,
            expires_in=tokens.expires_in,
            refresh_token=tokens.refresh_token,
            partner_id=tokens.partner_id,
            user=UserOut.of(tokens.user),
        )


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


class PartnerOut(BaseModel):
    id: str
    name: str
    acting: bool


class AuditOut(BaseModel):
    at: datetime
    user_id: str | None
    partner_id: str | None
    action: str
    target_id: str | None
    status: int
    client: str | None
    correlation_id: str | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None


WEAK_PASSWORD_ES = {
    "too_short": "La contraseña debe tener al menos {limit} caracteres.",
    "too_long": "La contraseña debe tener como mucho {limit} caracteres.",
    "is_email": "La contraseña no puede ser la dirección de correo.",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AccountLocked)
    async def _locked(request: Request, exc: AccountLocked) -> JSONResponse:
        return problem_response(
            request, 429, "too-many-attempts", str(exc), headers={"Retry-After": str(exc.retry_after_seconds)}
        )

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> JSONResponse:
        return problem_response(request, 401, "unauthorized", str(exc), headers=_BEARER)

    @app.exception_handler(PartnerNotAllowed)
    async def _partner(request: Request, exc: PartnerNotAllowed) -> JSONResponse:
        detail = "You are not associated with this partner."
        return problem_response(
            request,
            403,
            "partner-not-allowed",
            detail,
            errors=[field_error("partner_id", "partner_not_associated", detail)],
        )

    @app.exception_handler(WeakPassword)
    async def _weak(request: Request, exc: WeakPassword) -> JSONResponse:
        spanish = WEAK_PASSWORD_ES.get(exc.rule)
        language = negotiate(request.headers.get("accept-language"))
        message = spanish.format(limit=exc.limit) if spanish and language == "es" else str(exc)
        return problem_response(
            request, 422, "validation", str(exc), errors=[{"field": "new_password", "message": message}]
        )

    @app.exception_handler(BackendUnavailable)
    async def _unavailable(request: Request, exc: BackendUnavailable) -> JSONResponse:
        return problem_response(
            request,
            503,
            "service-unavailable",
            f"The {exc.service} service is unavailable ({exc.reason}).",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(BackendRefused)
    async def _refused(request: Request, exc: BackendRefused) -> JSONResponse:
        body = {**exc.problem, "instance": request.url.path}
        return JSONResponse(body, status_code=exc.status, media_type=PROBLEM_MEDIA_TYPE)


def router(
    *,
    accounts: Accounts,
    partners: PartnerDirectory,
    views: Views,
    hub: NotificationHub,
    audit: AuditLog,
    login_limiter: RateLimiter,
) -> APIRouter:
    api = APIRouter(prefix="/api/v1")

    def client_of(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    @api.post("/auth/login", tags=["auth"], summary="Log in: an access token and a rotating refresh token")
    async def login(body: LoginIn, request: Request) -> TokensOut:
        client = client_of(request)
        if wait := login_limiter.hit(client, time.monotonic()):
            raise Problem(
                429, "rate-limited", "Too many login attempts from here.", headers={"Retry-After": f"{wait:.0f}"}
            )
        return TokensOut.of(await accounts.login(body.email, body.password, partner_id=body.partner_id, client=client))

    @api.post("/auth/refresh", tags=["auth"], summary="New tokens for a refresh token (it can be used once)")
    async def refresh(body: RefreshIn) -> TokensOut:
        return TokensOut.of(await accounts.refresh(body.refresh_token, partner_id=body.partner_id))

    @api.post("/auth/logout", tags=["auth"], status_code=status.HTTP_204_NO_CONTENT, summary="End this session")
    async def logout(caller: CurrentCaller) -> Response:
        await accounts.logout(caller.session_id, user_id=caller.principal.user_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @api.get("/profile", tags=["profile"], summary="The signed-in user's data (R-50)")
    async def profile(caller: CurrentCaller) -> UserOut:
        return UserOut.of(await accounts.profile(caller.principal.user_id))

    @api.patch(
        "/profile",
        tags=["profile"],
        summary="Change name, phone or language (JSON Merge Patch)",
        openapi_extra=merge_patch.openapi_extra("ProfileIn"),
    )
    async def update_profile(body: ProfileIn, caller: CurrentCaller) -> UserOut:
        sent = body.model_fields_set
        phone = body.phone if body.phone is not None else ("" if "phone" in sent else None)  # null clears, as "" does
        user = await accounts.update_profile(
            caller.principal.user_id,
            name=body.name if "name" in sent else None,
            phone=phone,
            language=body.language if "language" in sent else None,
        )
        return UserOut.of(user)

    @api.post(
        "/profile/password",
        tags=["profile"],
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Change the password; the user's other sessions end",
    )
    async def change_password(body: PasswordIn, caller: CurrentCaller) -> Response:
        await accounts.change_password(
            caller.principal.user_id, current=body.current_password, new=body.new_password, session_id=caller.session_id
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @api.get("/partners", tags=["profile"], summary="The partners the user may act for (R-11's selector)")
    async def list_partners(caller: CurrentCaller) -> list[PartnerOut]:
        found = await partners.names(tuple(sorted(caller.principal.partner_ids)))
        return [PartnerOut(id=p.id, name=p.name, acting=p.id == caller.principal.partner_id) for p in found]

    @api.get("/views/instances/{instance_id}", tags=["views"], summary="Instance detail, composed")
    async def instance_view(instance_id: Id, caller: CurrentCaller, request: Request) -> dict[str, Any]:
        """The instance, its licenses, the company thread's unread count and its terminals' last activity.
        A part whose service fails is null and listed in `degraded`."""
        return (await views.instance(caller.token, instance_id, request.headers.get("accept-language"))).as_json()

    @api.get("/views/threads/{thread_id}", tags=["views"], summary="Thread header, composed (R-12, R-14)")
    async def thread_view(thread_id: Id, caller: CurrentCaller, request: Request) -> dict[str, Any]:
        return (await views.thread(caller.token, thread_id, request.headers.get("accept-language"))).as_json()

    @api.get(
        "/notifications/stream",
        tags=["notifications"],
        response_class=EventSourceResponse,
        summary="Live notifications (Server-Sent Events), resumable with Last-Event-ID",
    )
    async def notifications(
        caller: CurrentCaller,
        last_event_id: Annotated[str | None, Header(max_length=100)] = None,
    ) -> AsyncIterator[ServerSentEvent]:
        """Events of the partners the user acts for: `message.posted`, instance and license changes.
        The stream closes when the access token expires; reconnect with a fresh one and `Last-Event-ID`."""
        async for notification in hub.stream(
            caller.principal.partner_ids, last_event_id, keepalive_seconds=15.0, until=caller.expires_at
        ):
            if notification is None:
                yield ServerSentEvent(comment="keep-alive")
                continue
            yield ServerSentEvent(id=notification.stream_id, event=notification.type, data=notification.as_json())

    @api.get("/audit", tags=["audit"], summary="What users did through the gateway (staff)")
    async def audit_search(
        caller: StaffCaller,
        user_id: Id | None = None,
        action: Annotated[str | None, Query(max_length=200)] = None,
        partner_id: Id | None = None,
        since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
        until: Annotated[AwareDatetime | None, Query(alias="to")] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> AuditPage:
        since, until = _utc(since, "from"), _utc(until, "to")
        if since and until and since >= until:
            raise Problem(
                422, "validation", "`from` must be before `to`.", errors=[field_error("from", "after_to", "after to")]
            )
        scope = tuple(sorted(caller.principal.partner_ids))
        if partner_id is not None:
            if partner_id not in caller.principal.partner_ids:
                raise PartnerNotAllowed(partner_id)
            scope = (partner_id,)
        page = await audit.search(
            AuditQuery(
                partner_ids=scope, user_id=user_id, action=action, since=since, until=until, limit=limit, cursor=cursor
            )
        )
        return AuditPage(items=[AuditOut(**vars(entry)) for entry in page.items], next_cursor=page.next_cursor)

    return api
