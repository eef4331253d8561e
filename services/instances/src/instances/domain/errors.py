"""What can go wrong in the domain; the HTTP edge turns each into a problem+json answer."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 409
    slug = "conflict"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class IllegalTransition(DomainError):
    """The action is not allowed in the current state (named in the answer)."""

    slug = "illegal-transition"

    def __init__(self, current_state: str, action: str) -> None:
        super().__init__(f"Cannot {action}: the current state is {current_state!r}.", current_state=current_state)
        self.current_state = current_state


class Conflict(DomainError):
    def __init__(self, slug: str, detail: str, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.slug = slug


class QuotaExceeded(DomainError):
    slug = "quota-exceeded"

    def __init__(self, *, quota: int, in_use: int, requested: int) -> None:
        detail = f"The instance allows {quota} licenses; {in_use} are in use"
        detail += f" and {requested} more were asked for." if requested else "."
        super().__init__(detail, quota=quota, in_use=in_use, requested=requested)


class NotFound(DomainError):
    status = 404
    slug = "not-found"

    def __init__(self, what: str, identifier: str) -> None:
        super().__init__(f"No {what} {identifier}.")
