"""What the instances domain refuses, as `servicekit.errors.DomainError`s: each knows its status and
problem type, and the one servicekit handler answers it (absent ids are `servicekit.errors.NotFound`)."""

from __future__ import annotations

from typing import Any

from servicekit.errors import DomainError


class IllegalTransition(DomainError):
    """The action is not allowed in the current state (named in the answer)."""

    slug = "illegal-transition"

    def __init__(self, current_state: str, action: str) -> None:
        super().__init__(f"Cannot {action}: the current state is {current_state!r}.", current_state=current_state)
        self.current_state = current_state


class Conflict(DomainError):
    """A 409 whose problem type names the rule (e.g. `pin-in-use`, `concurrent-update`)."""

    def __init__(self, slug: str, detail: str, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.slug = slug


class QuotaExceeded(DomainError):
    slug = "quota-exceeded"

    def __init__(self, *, quota: int, in_use: int, requested: int) -> None:
        detail = f"The instance allows {quota} licenses; {in_use} are in use"
        detail += f" and {requested} more were asked for." if requested else "."
        super().__init__(detail, quota=quota, in_use=in_use, requested=requested)


class NoContract(DomainError):
    """The provisioning has no contract to show yet."""

    status = 404
    slug = "no-contract"

    def __init__(self, instance_id: str) -> None:
        super().__init__(f"Provisioning {instance_id} has no contract yet: provision it first.")
