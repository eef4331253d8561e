"""Keyset (cursor) pagination over MongoDB, independent of the driver and of the web framework
(the HTTP parameters and page model are in `servicekit.api`).

A cursor is the sort value and id of the last item of a page, opaque to clients (base64url
JSON). Keyset pages stay correct while items are added, and cost the same on page 1 and 1000.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from servicekit.errors import InvalidInput, field_error

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class InvalidCursor(InvalidInput, ValueError):
    """A `cursor` this API did not hand out (or one for another list)."""

    def __init__(self, message: str = "the cursor is not one this API returned") -> None:
        super().__init__([field_error("cursor", "cursor_invalid", message, where="query")], detail=message)


class InvalidSort(InvalidInput, ValueError):
    """A sort the list does not offer; `params` fill the `sort_unknown` field message."""

    def __init__(self, value: str, allowed: Iterable[str]) -> None:
        choices = ", ".join(sorted(allowed))
        message = f"cannot sort by {value!r}; choose from {choices}"
        self.params = {"value": repr(value), "choices": choices}
        super().__init__(
            [field_error("sort", "sort_unknown", message, where="query", params=self.params)], detail=message
        )


@dataclass(frozen=True)
class Sort:
    field: str
    descending: bool = False

    @classmethod
    def parse(cls, text: str, allowed: dict[str, str]) -> Sort:
        """`name` or `-name` (descending); `allowed` maps public names to stored fields."""
        descending = text.startswith("-")
        public = text.removeprefix("-")
        if public not in allowed:
            raise InvalidSort(public, allowed)
        return cls(allowed[public], descending)

    def mongo_sort(self) -> list[tuple[str, int]]:
        direction = -1 if self.descending else 1
        return [(self.field, direction), ("_id", direction)]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(sort_value: Any, item_id: str) -> str:
    if isinstance(sort_value, datetime):  # keeps its type, so it compares as a date again
        sort_value = {"datetime": sort_value.isoformat()}
    raw = json.dumps([sort_value, item_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, item_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursor("the cursor is not one this API returned") from exc
    if isinstance(value, dict) and set(value) == {"datetime"}:
        try:  # cursors carry aware datetimes, which the store compares in UTC
            value = datetime.fromisoformat(value["datetime"])
            if value.tzinfo is None:
                raise ValueError("a naive datetime")
            value = value.astimezone(UTC)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidCursor("the cursor is not one this API returned") from exc
    if not isinstance(item_id, str) or not isinstance(value, (str, int, float, bool, datetime, type(None))):
        raise InvalidCursor("the cursor is not one this API returned")
    # A forged number the store cannot hold (BSON: 64-bit integers, finite doubles in sort keys).
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise InvalidCursor("the cursor is not one this API returned")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidCursor("the cursor is not one this API returned")
    return value, item_id


def after_cursor(sort: Sort, cursor: str | None) -> dict[str, Any]:
    """The filter selecting items after the cursor, in the sort's order."""
    if cursor is None:
        return {}
    value, item_id = decode_cursor(cursor)
    op = "$lt" if sort.descending else "$gt"
    return {"$or": [{sort.field: {op: value}}, {sort.field: value, "_id": {op: item_id}}]}
