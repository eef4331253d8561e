"""The hardware compatibility list (R-60) from its packaged data file, and as a PDF (fpdf2).

The list ships inside the package (`gateway/data/hardware.json`) and changes with a release, so it is
read and validated once, when the gateway starts: a broken file stops the start with a message naming
what is wrong, instead of answering errors later.

In the data file a feature's result is either a bare level (`"supported"`) or `{"support": ..., "note": ...}`.
"""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.domain.hardware import (
    CompatibilityList,
    Feature,
    FeatureSupport,
    HardwareQuery,
    OperatingSystem,
    Support,
    Terminal,
)

Language = Literal["en", "es"]
DATA_FILE = ("data", "hardware.json")


class CatalogueError(RuntimeError):
    """The data file is missing or invalid."""


class _SupportDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    support: Support
    note: str | None = Field(default=None, max_length=200)


class _TerminalDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    maker: str = Field(max_length=60)
    model: str = Field(max_length=80)
    os: OperatingSystem
    os_versions: list[str] = Field(min_length=1, max_length=12)
    tested_app_version: str
    features: dict[Feature, Support | _SupportDoc]

    def to_domain(self) -> Terminal:
        features = {
            feature: FeatureSupport(value) if isinstance(value, Support) else FeatureSupport(value.support, value.note)
            for feature, value in self.features.items()
        }
        return Terminal(
            id=self.id,
            maker=self.maker,
            model=self.model,
            os=self.os,
            os_versions=tuple(self.os_versions),
            tested_app_version=self.tested_app_version,
            features=features,
        )


class _ListDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(max_length=20)
    updated: date
    terminals: list[_TerminalDoc]


def parse(data: Any, *, source: str = "hardware.json") -> CompatibilityList:
    """The list from the decoded JSON; `CatalogueError` says what is wrong (and where)."""
    try:
        doc = _ListDoc.model_validate(data)
        return CompatibilityList(doc.version, doc.updated, tuple(t.to_domain() for t in doc.terminals))
    except ValueError as exc:  # pydantic's ValidationError included
        raise CatalogueError(f"{source} is invalid: {exc}") from exc


class HardwareCatalogue:
    """The loaded list, its filters, and its PDF."""

    def __init__(self, compatibility: CompatibilityList) -> None:
        self.compatibility = compatibility

    @classmethod
    def load(cls, source: Traversable | None = None) -> HardwareCatalogue:
        """The packaged list (or `source`, for tests); raises `CatalogueError` when missing or invalid."""
        file = source or resources.files("gateway").joinpath(*DATA_FILE)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CatalogueError(f"cannot read the hardware compatibility list {file}: {exc}") from exc
        return cls(parse(data, source=str(file)))

    def select(self, query: HardwareQuery | None = None) -> tuple[Terminal, ...]:
        return self.compatibility.select(query)

    def pdf(self, query: HardwareQuery | None = None, *, language: Language = "en") -> bytes:
        """The filtered list as a landscape A4 PDF: title, the list's date, the table, numbered notes."""
        # fpdf2 and its fonts (some 30 MB) are imported with the first PDF, not by every process.
        from gateway.adapters.hardware_pdf import render_pdf  # noqa: PLC0415

        query = query or HardwareQuery()
        return render_pdf(self.compatibility, query, language=language)
