"""Web Push subscriptions under `/api/v1/push` (R-06): the browser's half of the notifications.

The web app reads the application server key, calls `pushManager.subscribe()` with it and posts
the resulting `PushSubscription.toJSON()` here; on sign-out it deletes it. Endpoints must be
https URLs of a known push service (`gateway.service_layer.commands.KNOWN_PUSH_SERVICES`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from gateway.adapters.webpush import (
    MAX_ENDPOINT_LENGTH,
    InvalidKey,
    check_auth_secret,
    check_p256dh,
    subscription_id,
)
from gateway.entrypoints.http import Commands, CurrentCaller, Queries
from servicekit.api import ResponseModel


def _coded(check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except InvalidKey as exc:  # its code words the field's message for the reader
        raise PydanticCustomError(exc.code, str(exc)) from exc


class KeysIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p256dh: str = Field(min_length=1, max_length=100, description="The browser's P-256 public key, base64url.")
    auth: str = Field(min_length=1, max_length=40, description="The browser's 16-byte auth secret, base64url.")

    @field_validator("p256dh")
    @classmethod
    def _p256dh(cls, value: str) -> str:
        return _coded(check_p256dh, value)

    @field_validator("auth")
    @classmethod
    def _auth(cls, value: str) -> str:
        return _coded(check_auth_secret, value)


class SubscriptionIn(BaseModel):
    """`PushSubscription.toJSON()` as the browser gives it."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "endpoint": "https://fcm.googleapis.com/fcm/send/dXk2…",
                    "expirationTime": None,
                    "keys": {
                        "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4Y…",
                        "auth": "tBHI…",
                    },
                }
            ]
        },
    )
    endpoint: str = Field(min_length=1, max_length=MAX_ENDPOINT_LENGTH, description="The push service's https URL.")
    keys: KeysIn
    expiration_time: int | None = Field(default=None, alias="expirationTime", ge=0)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if any(c.isspace() or ord(c) < 0x20 for c in value):
            raise PydanticCustomError("url_spaces", "must not contain spaces or control characters")
        try:
            parts = urlsplit(value)
            _ = parts.port  # raises on a malformed port
        except ValueError as exc:
            raise PydanticCustomError("url_invalid", "is not a valid URL") from exc
        if parts.scheme.lower() != "https" or not parts.hostname:
            raise PydanticCustomError("url_https", "must be an https URL")
        if parts.username is not None or parts.password is not None:
            raise PydanticCustomError("url_credentials", "must not contain credentials")
        return value


class SubscriptionOut(ResponseModel):
    endpoint: str
    partner_id: str
    created_at: datetime
    updated_at: datetime


class PublicKeyOut(BaseModel):
    public_key: str = Field(description="`applicationServerKey`: the uncompressed P-256 point, base64url.")


api = APIRouter(prefix="/api/v1", tags=["notifications"])


@api.get("/push/vapid-public-key", summary="The key to pass as `applicationServerKey` (no sign-in needed)")
async def vapid_public_key(queries: Queries) -> PublicKeyOut:
    return PublicKeyOut(public_key=await queries.vapid_public_key())


@api.post(
    "/push/subscriptions",
    status_code=status.HTTP_201_CREATED,
    summary="Receive notifications on this device (R-06)",
    responses={200: {"description": "The device was subscribed already: its keys and owner are updated."}},
)
async def subscribe(
    body: SubscriptionIn, caller: CurrentCaller, request: Request, response: Response, commands: Commands
) -> SubscriptionOut:
    """201 for a new endpoint, 200 when the endpoint is known (re-subscribing is idempotent).
    The device gets the acting partner's new support messages, except the user's own; an
    endpoint subscribed by another user before moves to this one (a browser has one per site)."""
    stored, created = await commands.subscribe_push(
        caller.principal,
        endpoint=body.endpoint,
        p256dh=body.keys.p256dh,
        auth=body.keys.auth,
        expiration_time=body.expiration_time,
    )
    request.state.target_id = stored.id  # for the audit trail: the endpoint's hash, not the endpoint
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return SubscriptionOut.model_validate(stored)


@api.delete(
    "/push/subscriptions",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop notifications on this device",
    responses={404: {"description": "No such subscription of this user."}},
)
async def unsubscribe(
    caller: CurrentCaller,
    request: Request,
    commands: Commands,
    endpoint: Annotated[str, Query(min_length=1, max_length=MAX_ENDPOINT_LENGTH)],
) -> Response:
    request.state.target_id = subscription_id(endpoint)
    await commands.unsubscribe_push(caller.principal, endpoint)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
