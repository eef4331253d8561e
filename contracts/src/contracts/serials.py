"""Terminal serials have one canonical form, upper case, so a serial is the same terminal in any
letter case: producers and consumers of events, the HTTP APIs and the stores all apply it."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints

SERIAL_PATTERN = r"^[A-Za-z0-9_.:-]+$"


def canonical_serial(value: str) -> str:
    """Serials are ASCII (`SERIAL_PATTERN`), so upper case is exact and never changes the length."""
    return value.upper()


SerialId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=SERIAL_PATTERN),
    AfterValidator(canonical_serial),
]
"""A serial in an event payload: validated, then in its canonical form."""
