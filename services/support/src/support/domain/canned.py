"""Canned replies: the support team's saved answers, in Spanish and English, with variables
(`{{company.name}}`) filled from the thread they are used in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from support.domain.model import AttachmentRef

LANGUAGES = ("es", "en")
VARIABLES = (
    "company.name",
    "company.tax_id",
    "instance.name",
    "instance.type",
    "instance.expiry_date",
    "license.user",
    "partner.name",
    "partner.contact",
    "agent.name",
)
MAX_ATTACHMENTS = 10
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")
_MONTHS = {
    "es": (
        [
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre",
            "octubre",
            "noviembre",
            "diciembre",
        ],
        "{day} de {month} de {year}",
    ),
    "en": (
        [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
        "{month} {day}, {year}",
    ),
}


@dataclass(frozen=True)
class CannedReply:
    id: str
    title: Mapping[str, str]
    text: Mapping[str, str]
    created_at: datetime
    updated_at: datetime
    created_by: str
    attachments: tuple[AttachmentRef, ...] = ()

    @property
    def variables(self) -> list[str]:
        """Every variable its texts name, in the order first named."""
        seen: list[str] = []
        for language in LANGUAGES:
            for name in variables_in(self.text.get(language, "")):
                if name not in seen:
                    seen.append(name)
        return seen

    def searchable(self) -> str:
        return " ".join([*self.title.values(), *self.text.values()])


@dataclass(frozen=True)
class Filled:
    language: str
    title: str
    text: str
    unknown_variables: list[str] = field(default_factory=list)
    missing_values: list[str] = field(default_factory=list)


def variables_in(text: str) -> list[str]:
    found: list[str] = []
    for match in _VARIABLE.finditer(text):
        if match.group(1) not in found:
            found.append(match.group(1))
    return found


def format_date(value: date, language: str) -> str:
    """`31 de diciembre de 2026` / `December 31, 2026`."""
    months, pattern = _MONTHS.get(language, _MONTHS["es"])
    return pattern.format(day=value.day, month=months[value.month - 1], year=value.year)


def fill(reply: CannedReply, values: Mapping[str, object], language: str) -> Filled:
    """The reply in `language` (Spanish when it has no text in it) with each known variable's
    value in place; a variable this version does not know, or one whose value the thread lacks,
    stays as written and is listed. Values are inserted as text, never read as templates."""
    language = language if reply.text.get(language) else LANGUAGES[0]
    unknown: list[str] = []
    missing: list[str] = []

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in VARIABLES:
            if name not in unknown:
                unknown.append(name)
            return match.group(0)
        value = values.get(name)
        if value is None or value == "":
            if name not in missing:
                missing.append(name)
            return match.group(0)
        if isinstance(value, date):
            return format_date(value, language)
        return str(value)

    text = _VARIABLE.sub(value_of, reply.text.get(language, ""))
    title = _VARIABLE.sub(value_of, reply.title.get(language) or reply.title.get(LANGUAGES[0], ""))
    return Filled(language, title, text, unknown, missing)
