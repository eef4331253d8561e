"""The gateway's own routes under `/api/v1`: auth, profile, partners, composed views, notifications, audit."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import AwareDatetime

from gateway.domain.model import AuthError, StaffOnly
from gateway.domain.rate_limit import LoginAttempts
from gateway.domain.views import View
from gateway.entrypoints.schemas import (
    AuditPage,
    Id,
    LoginIn,
    PartnerOut,
    PasswordIn,
    ProfileIn,
    RefreshIn,
    TokensOut,
    UserOut,
)
from gateway.service_layer.commands import GatewayCommands
from gateway.service_layer.ports import BackendRefused, BackendUnavailable
from gateway.service_layer.queries import GatewayQueries
from servicekit import merge_patch, openapi
from servicekit.api import Cursor, provided
from servicekit.auth import BearerToken, TokenVerifier, Verifier, bearer_token, token_verifier
from servicekit.i18n import Language as I18nLanguage
from servicekit.i18n import as_language
from servicekit.principal import Principal
from servicekit.problems import PROBLEM_MEDIA_TYPE, Problem

Commands = Annotated[GatewayCommands, provided(GatewayCommands)]
Queries = Annotated[GatewayQueries, provided(GatewayQueries)]
LoginLimiter = Annotated[LoginAttempts, provided(LoginAttempts)]


@dataclass(frozen=True)
class Caller:
    """A verified user: who, for which partner, with which token (forwarded to the services)."""

    principal: Principal
    token: str
    session_id: str
    expires_at: datetime


async def caller_of(request: Request, verifier: TokenVerifier, token: str, queries: GatewayQueries) -> Caller:
    """The token's caller, once their session is checked (still open, partner still theirs)."""
    claims = verifier.claims(token)
    principal = await queries.authenticate(claims, verifier.principal_of(claims))
    request.state.principal = principal  # for the audit trail
    return Caller(principal, token, str(claims["sid"]), datetime.fromtimestamp(claims["exp"], UTC))


async def authenticate(request: Request, verifier: Verifier, token: BearerToken, queries: Queries) -> Caller:
    return await caller_of(request, verifier, token, queries)


async def profile_language(request: Request, queries: GatewayQueries) -> I18nLanguage | None:
    """A public route's caller's profile language when it sends a valid token; None otherwise
    (a public route answers an anonymous caller, or one whose token is stale, all the same)."""
    if not request.headers.get("Authorization"):
        return None
    try:
        caller = await caller_of(request, token_verifier(request), bearer_token(request), queries)
    except (Problem, AuthError):
        return None
    return as_language((await queries.profile(caller.principal.user_id)).language.value)


CurrentCaller = Annotated[Caller, Depends(authenticate)]


def require_staff(caller: CurrentCaller) -> Caller:
    if not caller.principal.is_staff:
        raise StaffOnly
    return caller


StaffCaller = Annotated[Caller, Depends(require_staff)]
# For the API document: which routes need the token, and how they answer without it.
openapi.describe_dependency(authenticate, security=openapi.BEARER, errors=(401, 503))
openapi.describe_dependency(require_staff, errors=(403,))


async def _composed(request: Request, view: Awaitable[View]) -> dict[str, Any] | Response:
    """The view's parts; a required part's service refusing (4xx, passed on as it answered) or
    not answering fails the view."""
    try:
        return (await view).as_json()
    except BackendRefused as refused:
        body = {**refused.problem, "instance": request.url.path}
        return JSONResponse(body, status_code=refused.status, media_type=PROBLEM_MEDIA_TYPE)
    except BackendUnavailable as exc:
        detail = f"The {exc.service} service is unavailable ({exc.reason})."
        raise Problem(503, "service-unavailable", detail, headers={"Retry-After": "5"}) from exc


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


api = APIRouter(prefix="/api/v1")


@api.post("/auth/login", tags=["auth"], summary="Log in: an access token and a rotating refresh token")
async def login(body: LoginIn, request: Request, commands: Commands, limiter: LoginLimiter) -> TokensOut:
    client = client_of(request)
    if wait := limiter.hit(client, time.monotonic()):
        raise Problem(429, "rate-limited", "Too many login attempts from here.", headers={"Retry-After": f"{wait:.0f}"})
    tokens = await commands.login(body.email, body.password, partner_id=body.partner_id, client=client)
    return TokensOut.model_validate(tokens)


@api.post("/auth/refresh", tags=["auth"], summary="New tokens for a refresh token (it can be used once)")
async def refresh(body: RefreshIn, commands: Commands) -> TokensOut:
    tokens = await commands.refresh(body.refresh_token, partner_id=body.partner_id)
    return TokensOut.model_validate(tokens)


@api.post("/auth/logout", tags=["auth"], status_code=status.HTTP_204_NO_CONTENT, summary="End this session")
async def logout(caller: CurrentCaller, commands: Commands) -> Response:
    await commands.logout(caller.session_id, user_id=caller.principal.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@api.get("/profile", tags=["profile"], summary="The signed-in user's data (R-50)")
async def profile(caller: CurrentCaller, queries: Queries) -> UserOut:
    user = await queries.profile(caller.principal.user_id)
    return UserOut.model_validate(user)


@api.patch(
    "/profile",
    tags=["profile"],
    summary="Change name, phone or language (JSON Merge Patch)",
    openapi_extra=merge_patch.openapi_extra("ProfileIn"),
)
async def update_profile(body: ProfileIn, caller: CurrentCaller, commands: Commands) -> UserOut:
    sent = body.model_fields_set
    phone = body.phone if body.phone is not None else ("" if "phone" in sent else None)  # null clears, as "" does
    user = await commands.update_profile(
        caller.principal.user_id,
        name=body.name if "name" in sent else None,
        phone=phone,
        language=body.language if "language" in sent else None,
    )
    return UserOut.model_validate(user)


@api.post(
    "/profile/password",
    tags=["profile"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change the password; the user's other sessions end",
)
async def change_password(body: PasswordIn, caller: CurrentCaller, request: Request, commands: Commands) -> Response:
    await commands.change_password(
        caller.principal.user_id,
        current=body.current_password,
        new=body.new_password,
        session_id=caller.session_id,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@api.get("/partners", tags=["profile"], summary="The partners the user may act for (R-11's selector)")
async def list_partners(caller: CurrentCaller, queries: Queries) -> list[PartnerOut]:
    return [PartnerOut.model_validate(choice) for choice in await queries.partners(caller.principal)]


@api.get(
    "/views/instances/{instance_id}",
    tags=["views"],
    summary="Instance detail, composed",
    response_model=dict[str, Any],
)
async def instance_view(
    instance_id: Id, caller: CurrentCaller, request: Request, queries: Queries
) -> dict[str, Any] | Response:
    """The instance, its licenses, the company thread's unread count and its terminals' last activity.
    A part whose service fails is null and listed in `degraded`."""
    language = request.headers.get("accept-language")
    return await _composed(request, queries.instance_view(caller.token, instance_id, language))


@api.get(
    "/views/threads/{thread_id}",
    tags=["views"],
    summary="Thread header, composed (R-12, R-14)",
    response_model=dict[str, Any],
)
async def thread_view(
    thread_id: Id, caller: CurrentCaller, request: Request, queries: Queries
) -> dict[str, Any] | Response:
    language = request.headers.get("accept-language")
    return await _composed(request, queries.thread_view(caller.token, thread_id, language))


@api.get(
    "/notifications/stream",
    tags=["notifications"],
    response_class=EventSourceResponse,
    summary="Live notifications (Server-Sent Events), resumable with Last-Event-ID",
)
async def notifications(
    caller: CurrentCaller,
    queries: Queries,
    last_event_id: Annotated[str | None, Header(max_length=100)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Events of the partners the user acts for: `message.posted`, instance and license changes.
    The stream closes when the access token expires; reconnect with a fresh one and `Last-Event-ID`."""
    stream = await queries.notification_stream(
        caller.principal.partner_ids, last_event_id, keepalive_seconds=15.0, until=caller.expires_at
    )
    async for notification in stream:
        if notification is None:
            yield ServerSentEvent(comment="keep-alive")
            continue
        yield ServerSentEvent(id=notification.stream_id, event=notification.type, data=notification.as_json())


AuditLimit = Annotated[int, Query(ge=1, le=200)]


@api.get("/audit", tags=["audit"], summary="What users did through the gateway (staff)")
async def audit_search(
    caller: StaffCaller,
    queries: Queries,
    user_id: Id | None = None,
    action: Annotated[str | None, Query(max_length=200)] = None,
    partner_id: Id | None = None,
    since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: AuditLimit = 50,
    cursor: Cursor = None,
) -> AuditPage:
    page = await queries.audit_search(
        caller.principal,
        user_id=user_id,
        action=action,
        partner_id=partner_id,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    return AuditPage.model_validate(page)
