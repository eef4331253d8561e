"""The HTTP edge every service's routes share: page parameters and page model, the bearer token,
and the use cases the composition root provided.

Routes are module-level functions whose dependencies are `Annotated` aliases, e.g.

    Commands = Annotated[SupportCommands, provided(SupportCommands)]

    @api.post("/threads/{thread_id}/messages")
    async def post_message(thread_id: str, principal: CurrentPrincipal, commands: Commands) -> MessageOut: ...

and the composition root registers the instances: `runtime.provide(SupportCommands, commands)`.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from servicekit.idempotency import HEADER as IDEMPOTENCY_HEADER
from servicekit.idempotency import KEY_PATTERN
from servicekit.pagination import DEFAULT_LIMIT, MAX_LIMIT

T = TypeVar("T")

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Cursor",
    "Limit",
    "PageOut",
    "ResponseModel",
    "idempotency_key_header",
    "provided",
]

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]
Cursor = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page")]


def idempotency_key_header(description: str) -> Any:
    """The `Idempotency-Key` request header, with the same bounds on every route that takes it
    (what a retry means is the route's own, hence the description):

        IdempotencyKey = Annotated[str | None, idempotency_key_header("A retry posts once.")]
    """
    return Header(alias=IDEMPOTENCY_HEADER, min_length=8, max_length=128, pattern=KEY_PATTERN, description=description)


class ResponseModel(BaseModel):
    """A response body read from a domain object's attributes (`Model.model_validate(obj)`)."""

    model_config = ConfigDict(from_attributes=True)


class PageOut(ResponseModel, Generic[T]):
    """One page of a list: its items and the cursor of the next page.

    Used as `PageOut[ThreadOut]` (schema `PageOut_ThreadOut_`), or named for the document with
    a one-line subclass: `class ThreadPage(PageOut[ThreadOut]): ...`."""

    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


_PROVIDED = "provided"


def provided(kind: type[T]) -> Any:
    """A dependency answering the `kind` instance the composition root registered with
    `ServiceRuntime.provide` (one registry per app, so tests may build several apps side by side)."""

    async def resolve(request: Request) -> T:  # async: FastAPI runs a plain `def` in a worker thread
        registry: dict[type[Any], Any] = getattr(request.app.state, _PROVIDED)
        return registry[kind]  # type: ignore[no-any-return]

    resolve.__name__ = f"provided_{kind.__name__}"
    return Depends(resolve)


def provide_on(app: Any, kind: type[T], instance: T) -> None:
    """Register what `provided(kind)` answers on an app built without a `ServiceRuntime` (tests
    mounting a router alone); `ServiceRuntime.provide` does this for the service's app."""
    registry: dict[type[Any], Any] | None = getattr(app.state, _PROVIDED, None)
    if registry is None:
        registry = {}
        setattr(app.state, _PROVIDED, registry)
    registry[kind] = instance


def provided_on(app: Any, kind: type[T]) -> T:
    """What the app's composition root provided as `kind` (e.g. for a test to drive a use case)."""
    registry: dict[type[Any], Any] = getattr(app.state, _PROVIDED)
    return registry[kind]  # type: ignore[no-any-return]
