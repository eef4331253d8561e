"""What a use case refuses, in one family: each error knows its HTTP status and problem type.

Framework-free, so domain and service layers raise these directly; `servicekit.problems`
installs the one handler that answers every `DomainError` as problem+json (RFC 9457).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def field_error(
    field: str, code: str, message: str, *, where: str | None = None, params: Mapping[str, object] | None = None
) -> dict[str, Any]:
    """A problem's field error our code writes: `message` in English, `code` (a key of
    `servicekit.i18n.FIELD_MESSAGES`) and its `params` word it for each reader when answered."""
    error: dict[str, Any] = {"field": field, "message": message, "code": code, "params": dict(params or {})}
    if where is not None:
        error["in"] = where
    return error


class DomainError(Exception):
    """A refusal answered as problem+json: `status`, `slug` (the problem type's last part), the
    English `detail`, extension members (e.g. `errors`, `current_state`) and the answer's
    `headers` (e.g. a bearer challenge with a 401, `Retry-After` with a 429 or 503)."""

    status = 409
    slug = "conflict"
    headers: Mapping[str, str] = {}

    def __init__(self, detail: str, *, headers: Mapping[str, str] | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions
        if headers is not None:
            self.headers = dict(headers)


class NotFound(DomainError):
    """Absent, or not visible to the caller (another partner's ids are answered the same way)."""

    status = 404
    slug = "not-found"

    def __init__(self, what: str, identifier: str) -> None:
        super().__init__(f"No {what} {identifier}.")
        self.what = what
        self.identifier = identifier


class PartnerNotAllowed(DomainError):
    """The caller asked for a partner they do not act for."""

    status = 403
    slug = "partner-not-allowed"

    def __init__(self, partner_id: str, *, detail: str | None = None, code: str = "partner_not_yours") -> None:
        message = detail or f"Partner {partner_id} is not one of yours."
        params = {"partner_id": partner_id} if code == "partner_not_yours" else {}
        super().__init__(message, errors=[field_error("partner_id", code, message, params=params)])
        self.partner_id = partner_id


class InvalidInput(DomainError):
    """A 422 naming each offending field (`field_error`s); `detail` defaults to the fields named."""

    status = 422
    slug = "validation"

    def __init__(self, errors: Iterable[Mapping[str, Any]], *, detail: str | None = None) -> None:
        listed = [dict(e) for e in errors]
        fields = ", ".join(sorted({str(e["field"]) for e in listed}))
        super().__init__(detail or f"Invalid value for: {fields}.", errors=listed)
        self.errors = listed

    @classmethod
    def of_field(
        cls,
        field: str,
        code: str,
        message: str,
        *,
        where: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> InvalidInput:
        """One field's refusal; the answer's detail is the field's message."""
        return cls([field_error(field, code, message, where=where, params=params)], detail=message)
