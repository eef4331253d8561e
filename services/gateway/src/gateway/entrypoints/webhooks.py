"""Webhooks under `/api/v1/webhooks` (#19): partners' subscriptions, their delivery log, replay
and a test event. A partner user manages their partners' subscriptions; staff every partner's.
Registered before the forwarding router's catch-all."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query, Request, Response, status
from pydantic import BaseModel

from contracts import EventEnvelope
from contracts.topics import topic
from gateway.domain.webhooks import DELIVERED_TOPICS, TEST_EVENT
from gateway.entrypoints.http import CurrentCaller, Queries
from gateway.entrypoints.schemas import (
    DeliveryOut,
    DeliveryOutcome,
    DeliveryPage,
    Id,
    ReplayedOut,
    ReplayIn,
    SecretRotationIn,
    SecretRotationOut,
    WebhookCreatedOut,
    WebhookEventTypeOut,
    WebhookEventTypesOut,
    WebhookIn,
    WebhookOut,
    WebhookPage,
    WebhookPatchIn,
    WebhookStatus,
)
from gateway.service_layer.webhooks import WebhookCommands, WebhookQueries
from servicekit import merge_patch
from servicekit.api import DEFAULT_LIMIT, Cursor, Limit, idempotency_key_header, provided
from servicekit.i18n import Language, as_language, negotiate
from servicekit.idempotency import IdempotencyKeys, fingerprint

Commands = Annotated[WebhookCommands, provided(WebhookCommands)]
HookQueries = Annotated[WebhookQueries, provided(WebhookQueries)]
Keys = Annotated[IdempotencyKeys, provided(IdempotencyKeys)]
IdempotencyKey = Annotated[
    str | None,
    idempotency_key_header(
        "A retry with the same key creates one subscription (and answers it again, with its secret); "
        "the key with another request is a 422."
    ),
]
EventTypeFilter = Annotated[str | None, Query(max_length=64, description="Only deliveries of this event type")]

api = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


async def _language(request: Request, caller: CurrentCaller, queries: Queries) -> Language:
    header = request.headers.get("accept-language")
    if header:
        return negotiate(header)
    return as_language((await queries.profile(caller.principal.user_id)).language.value)


@api.get("/event-types", summary="The events a subscription may choose, described in the caller's language")
async def event_types(
    request: Request, caller: CurrentCaller, queries: Queries, hooks: HookQueries
) -> WebhookEventTypesOut:
    language = await _language(request, caller, queries)
    items = await hooks.webhook_event_types(language)
    return WebhookEventTypesOut(items=[WebhookEventTypeOut.model_validate(item) for item in items])


@api.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a URL to events; the signing secret is in this answer only",
    responses={200: {"description": "A retry under the same Idempotency-Key: the subscription it created."}},
)
async def create_webhook(
    body: WebhookIn,
    caller: CurrentCaller,
    request: Request,
    response: Response,
    commands: Commands,
    keys: Keys,
    idempotency_key: IdempotencyKey = None,
) -> WebhookCreatedOut:
    request_print = fingerprint("POST", request.url.path, body.model_dump(mode="json"))
    async with keys.request(caller.principal, idempotency_key, request_print):
        created = await commands.create_webhook(
            caller.principal,
            partner_id=body.partner_id,
            url=body.url,
            event_types=body.event_types,
            instance_id=body.instance_id,
            description=body.description,
            active=body.active,
            idempotency_key=idempotency_key,
        )
    request.state.target_id = created.subscription.id
    response.headers["Location"] = f"/api/v1/webhooks/{created.subscription.id}"
    response.status_code = status.HTTP_201_CREATED if created.created else status.HTTP_200_OK
    shown = WebhookOut.model_validate(created.subscription).model_dump()
    return WebhookCreatedOut(**shown, secret=created.secret)


@api.get("", summary="Subscriptions of the caller's partners (staff: of every partner associated), newest first")
async def list_webhooks(
    caller: CurrentCaller,
    hooks: HookQueries,
    partner_id: Id | None = None,
    status: WebhookStatus | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> WebhookPage:
    page = await hooks.webhooks(caller.principal, partner_id=partner_id, status=status, limit=limit, cursor=cursor)
    return WebhookPage.model_validate(page)


@api.get("/{subscription_id}", summary="A subscription")
async def get_webhook(subscription_id: Id, caller: CurrentCaller, hooks: HookQueries) -> WebhookOut:
    return WebhookOut.model_validate(await hooks.webhook(caller.principal, subscription_id))


@api.patch(
    "/{subscription_id}",
    summary="Change a subscription (JSON Merge Patch); `status: active` resumes one paused for failures",
    openapi_extra=merge_patch.openapi_extra("WebhookPatchIn"),
)
async def update_webhook(
    subscription_id: Id, body: WebhookPatchIn, caller: CurrentCaller, commands: Commands
) -> WebhookOut:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    updated = await commands.update_webhook(caller.principal, subscription_id, changes)
    return WebhookOut.model_validate(updated)


@api.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a subscription and its log")
async def delete_webhook(subscription_id: Id, caller: CurrentCaller, commands: Commands) -> Response:
    await commands.delete_webhook(caller.principal, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@api.post("/{subscription_id}/secret", summary="Rotate the signing secret; the previous one signs too for the overlap")
async def rotate_secret(
    subscription_id: Id, caller: CurrentCaller, commands: Commands, body: SecretRotationIn | None = None
) -> SecretRotationOut:
    overlap = (body or SecretRotationIn()).overlap_hours
    rotated = await commands.rotate_webhook_secret(caller.principal, subscription_id, overlap_hours=overlap)
    return SecretRotationOut(
        secret=rotated.secret, previous_secret_expires_at=rotated.subscription.previous_secret_expires_at
    )


@api.post(
    "/{subscription_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a `webhook.test` event to this subscription",
    responses={409: {"description": "The subscription is paused."}},
)
async def send_test(subscription_id: Id, caller: CurrentCaller, commands: Commands) -> DeliveryOut:
    return DeliveryOut.model_validate(await commands.send_test_event(caller.principal, subscription_id))


@api.get("/{subscription_id}/deliveries", summary="The delivery log, newest first")
async def list_deliveries(
    subscription_id: Id,
    caller: CurrentCaller,
    hooks: HookQueries,
    event_type: EventTypeFilter = None,
    outcome: DeliveryOutcome | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> DeliveryPage:
    page = await hooks.webhook_deliveries(
        caller.principal, subscription_id, event_type=event_type, outcome=outcome, limit=limit, cursor=cursor
    )
    return DeliveryPage.model_validate(page)


@api.get("/{subscription_id}/deliveries/{delivery_id}", summary="One delivery and its attempts")
async def get_delivery(subscription_id: Id, delivery_id: Id, caller: CurrentCaller, hooks: HookQueries) -> DeliveryOut:
    return DeliveryOut.model_validate(await hooks.webhook_delivery(caller.principal, subscription_id, delivery_id))


@api.post(
    "/{subscription_id}/deliveries/{delivery_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send one delivery again (a new series of attempts, same `webhook-id`)",
)
async def replay_delivery(
    subscription_id: Id, delivery_id: Id, caller: CurrentCaller, commands: Commands
) -> DeliveryOut:
    return DeliveryOut.model_validate(await commands.replay_delivery(caller.principal, subscription_id, delivery_id))


@api.post(
    "/{subscription_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send again every failed delivery created since a moment",
)
async def replay_failed(subscription_id: Id, body: ReplayIn, caller: CurrentCaller, commands: Commands) -> ReplayedOut:
    return ReplayedOut(replayed=await commands.replay_failed(caller.principal, subscription_id, since=body.since))


# ---------------------------------------------------------------------- the deliveries, documented

WebhookId = Annotated[
    str, Header(alias="webhook-id", description="The CloudEvent id: the same in every retry and replay; deduplicate.")
]
WebhookTimestamp = Annotated[
    str, Header(alias="webhook-timestamp", description="Unix seconds when this attempt was signed.")
]
WebhookSignature = Annotated[
    str,
    Header(
        alias="webhook-signature",
        description='Space-separated `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`, keyed '
        "by the base64-decoded part of the secret after `whsec_` (Standard Webhooks); two during a rotation.",
    ),
]


class TestEventData(BaseModel):
    subscription_id: str
    partner_id: str
    requested_by: str


def _delivery_doc(event_type: str, payload: type[BaseModel]) -> None:
    async def receive(
        body: BaseModel,  # replaced below by the event's envelope type
        webhook_id: WebhookId,
        webhook_timestamp: WebhookTimestamp,
        webhook_signature: WebhookSignature,
    ) -> None:
        """Answer 2xx within 10 s once stored; anything else (or no answer) is retried with backoff
        over more than a day (`Retry-After` honoured on 429 and 503), then the subscription pauses."""

    receive.__name__ = f"webhook_{event_type.replace('.', '_')}"
    receive.__annotations__["body"] = EventEnvelope[payload]  # type: ignore[valid-type]
    deliveries.post(
        event_type,
        summary=f"`{event_type}` delivered to a subscription's URL",
        openapi_extra={"requestBody": {"content": {"application/cloudevents+json": {}}}},
        responses={200: {"description": "Received (any 2xx)."}},
        status_code=200,
    )(receive)


deliveries = APIRouter(tags=["webhooks"])
"""`webhooks` of the gateway's OpenAPI document: what a subscription's URL receives."""
for _name in DELIVERED_TOPICS:
    _delivery_doc(_name, topic(_name).payload)
_delivery_doc(TEST_EVENT, TestEventData)


def document_deliveries(app: FastAPI) -> None:
    """Add the deliveries as the document's `webhooks` (OpenAPI 3.1). A receiver's answer is not
    validated by us, so FastAPI's 422 is replaced by what any other answer means."""
    app.webhooks.include_router(deliveries)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        for item in document.get("webhooks", {}).values():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses["default"] = {"description": "Not received: retried with backoff, the same webhook-id."}
        return document

    app.openapi = openapi  # type: ignore[method-assign]
