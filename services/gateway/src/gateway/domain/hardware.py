"""The hardware compatibility list (R-60): which Working Day Suite features work on each tested terminal.

Some features depend on the terminal's maker, its operating system and the OS version, so the product
publishes the terminals it has tested with, per feature: supported, partially supported (with a note
saying what is missing) or not supported. This module is the model of that list, with its filters and
its sort orders; it does no I/O (the data file and the PDF live in `gateway.adapters.hardware_catalogue`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Any

MAX_FILTER_LENGTH = 100
_VERSION = re.compile(r"^\d+(\.\d+){0,3}$")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class Labels:
    """A text in the two languages of the product."""

    en: str
    es: str

    def __post_init__(self) -> None:
        if not self.en.strip() or not self.es.strip():
            raise ValueError("a label needs an English and a Spanish text")

    def text(self, language: str) -> str:
        """The text in `language` ("es" or "en"); English for any other."""
        return self.es if language == "es" else self.en


class Feature(StrEnum):
    """The hardware-related features of Working Day Suite, in the order of the list's columns."""

    BARCODE_SCANNER = "barcode_scanner"
    NFC = "nfc"
    CAMERA = "camera"
    GPS = "gps"
    BIOMETRIC = "biometric"
    PRINTER = "printer"
    OFFLINE_MODE = "offline_mode"
    PUSH_NOTIFICATIONS = "push_notifications"

    @property
    def labels(self) -> Labels:
        return FEATURE_LABELS[self]


FEATURE_LABELS: Mapping[Feature, Labels] = MappingProxyType(
    {
        Feature.BARCODE_SCANNER: Labels("Barcode scanner", "Lector de códigos de barras"),
        Feature.NFC: Labels("NFC", "NFC"),
        Feature.CAMERA: Labels("Camera", "Cámara"),
        Feature.GPS: Labels("GPS location", "Localización GPS"),
        Feature.BIOMETRIC: Labels("Biometric sign-in", "Acceso biométrico"),
        Feature.PRINTER: Labels("Printing", "Impresión"),
        Feature.OFFLINE_MODE: Labels("Offline mode", "Modo sin conexión"),
        Feature.PUSH_NOTIFICATIONS: Labels("Push notifications", "Notificaciones push"),
    }
)


class Support(StrEnum):
    SUPPORTED = "supported"
    PARTIAL = "partial"
    UNSUPPORTED = "unsupported"

    @property
    def labels(self) -> Labels:
        return SUPPORT_LABELS[self]


SUPPORT_LABELS: Mapping[Support, Labels] = MappingProxyType(
    {
        Support.SUPPORTED: Labels("Yes", "Sí"),
        Support.PARTIAL: Labels("Partial", "Parcial"),
        Support.UNSUPPORTED: Labels("No", "No"),
    }
)


class OperatingSystem(StrEnum):
    ANDROID = "android"
    IOS = "ios"

    @property
    def label(self) -> str:
        return {OperatingSystem.ANDROID: "Android", OperatingSystem.IOS: "iOS"}[self]


def version_key(version: str) -> tuple[int, ...]:
    """Versions compare by their numbers, not as text: 13 < 13.1 < 14."""
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True)
class FeatureSupport:
    support: Support
    note: str | None = None

    def __post_init__(self) -> None:
        if self.note is not None and not self.note.strip():
            raise ValueError("a note, when given, may not be blank")
        if self.support is Support.PARTIAL and self.note is None:
            raise ValueError("a partial support needs a note saying what is missing")


@dataclass(frozen=True)
class Terminal:
    """A tested terminal. `os_versions` are the OS versions it was tested on, oldest first."""

    id: str
    maker: str
    model: str
    os: OperatingSystem
    os_versions: tuple[str, ...]
    tested_app_version: str
    features: Mapping[Feature, FeatureSupport] = field(hash=False)

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"terminal id {self.id!r}: lowercase letters, digits and dashes only")
        for name in ("maker", "model"):
            if not getattr(self, name).strip():
                raise ValueError(f"terminal {self.id}: the {name} may not be blank")
        if not self.os_versions:
            raise ValueError(f"terminal {self.id}: at least one tested OS version is needed")
        for version in (*self.os_versions, self.tested_app_version):
            if not _VERSION.match(version):
                raise ValueError(f"terminal {self.id}: {version!r} is not a version like 13 or 17.4")
        if len(set(self.os_versions)) != len(self.os_versions):
            raise ValueError(f"terminal {self.id}: an OS version is listed twice")
        missing = [f.value for f in Feature if f not in self.features]
        if missing:
            raise ValueError(f"terminal {self.id}: no result for {', '.join(missing)}")
        ordered = tuple(sorted(self.os_versions, key=version_key))
        object.__setattr__(self, "os_versions", ordered)
        object.__setattr__(self, "features", MappingProxyType({f: self.features[f] for f in Feature}))

    @property
    def os_label(self) -> str:
        return self.os.label

    @property
    def latest_os_version(self) -> str:
        return self.os_versions[-1]

    @property
    def os_text(self) -> str:
        """The OS and the versions it was tested on, as shown: `Android 11, 13`."""
        return f"{self.os.label} {', '.join(self.os_versions)}"

    def supports(self, feature: Feature) -> bool:
        return self.features[feature].support is Support.SUPPORTED

    def matches(self, text: str) -> bool:
        """Case-insensitive substring search on the maker, the model and the OS with its versions
        (`xcover`, `zebra tc5`, `android 14`: the last one also finds "Android 13, 14")."""
        needle = " ".join(text.split()).casefold()
        hays: tuple[str, ...] = (self.maker, self.model, f"{self.maker} {self.model}", self.os_text)
        hays += tuple(f"{self.os.label} {version}" for version in self.os_versions)
        return any(needle in hay.casefold() for hay in hays)


class SortKey(StrEnum):
    MAKER = "maker"
    MODEL = "model"
    OS = "os"
    OS_VERSION = "os_version"
    APP_VERSION = "app_version"


_SORT_KEYS: Mapping[SortKey, Callable[[Terminal], Any]] = MappingProxyType(
    {
        SortKey.MAKER: lambda t: (t.maker.casefold(), t.model.casefold()),
        SortKey.MODEL: lambda t: (t.model.casefold(), t.maker.casefold()),
        SortKey.OS: lambda t: (t.os.value, version_key(t.latest_os_version), t.maker.casefold(), t.model.casefold()),
        SortKey.OS_VERSION: lambda t: (version_key(t.latest_os_version), t.maker.casefold(), t.model.casefold()),
        SortKey.APP_VERSION: lambda t: (version_key(t.tested_app_version), t.maker.casefold(), t.model.casefold()),
    }
)
SORT_VALUES: tuple[str, ...] = tuple(v for key in SortKey for v in (key.value, f"-{key.value}"))


@dataclass(frozen=True)
class Sort:
    key: SortKey = SortKey.MAKER
    descending: bool = False

    @classmethod
    def parse(cls, text: str | None) -> Sort:
        """`maker`, `-maker` (descending), `model`, `os`, `os_version` (latest tested), `app_version`."""
        if text is None or not text.strip():
            return cls()
        raw = text.strip()
        descending = raw.startswith("-")
        try:
            return cls(SortKey(raw.removeprefix("-").casefold()), descending)
        except ValueError:
            choices = ", ".join(SORT_VALUES)
            message = f"Unknown sort {raw!r}; use one of: {choices}."
            raise InvalidFilter("sort", message, "hardware_sort", value=repr(raw), choices=choices) from None

    def apply(self, terminals: Iterable[Terminal]) -> tuple[Terminal, ...]:
        return tuple(sorted(terminals, key=_SORT_KEYS[self.key], reverse=self.descending))

    def __str__(self) -> str:
        return f"-{self.key.value}" if self.descending else self.key.value


class InvalidFilter(ValueError):
    """A filter or sort the list does not know; `field` names the offending parameter."""

    def __init__(self, field: str, message: str, code: str, **params: object) -> None:
        super().__init__(message)
        self.field = field
        self.code, self.params = code, params  # what words the message for each reader


def parse_feature(text: str) -> Feature:
    """`nfc`, `barcode_scanner` (also `barcode-scanner`, any case)."""
    try:
        return Feature(text.strip().casefold().replace("-", "_"))
    except ValueError:
        known = ", ".join(f.value for f in Feature)
        value = repr(text.strip())
        message = f"Unknown feature {value}; use one of: {known}."
        raise InvalidFilter("feature", message, "hardware_feature", value=value, choices=known) from None


def parse_os(text: str) -> OperatingSystem:
    try:
        return OperatingSystem(text.strip().casefold())
    except ValueError:
        known = ", ".join(o.value for o in OperatingSystem)
        value = repr(text.strip())
        message = f"Unknown operating system {value}; use one of: {known}."
        raise InvalidFilter("os", message, "hardware_os", value=value, choices=known) from None


def _text_filter(name: str, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > MAX_FILTER_LENGTH:
        message = f"At most {MAX_FILTER_LENGTH} characters."
        raise InvalidFilter(name, message, "at_most_characters", limit=MAX_FILTER_LENGTH)
    return " ".join(value.split())


@dataclass(frozen=True)
class HardwareQuery:
    """Filters (all optional, combined with AND) and the sort order of the list.

    `maker` and `model` match exactly, ignoring case and extra spaces; `q` is a substring of the maker,
    the model or the OS; every feature in `features` must be fully supported (partial support does not count).
    """

    maker: str | None = None
    model: str | None = None
    os: OperatingSystem | None = None
    q: str | None = None
    features: frozenset[Feature] = field(default_factory=frozenset)
    sort: Sort = field(default_factory=Sort)

    @classmethod
    def parse(
        cls,
        *,
        maker: str | None = None,
        model: str | None = None,
        os: str | None = None,
        q: str | None = None,
        features: Iterable[str] = (),
        sort: str | None = None,
    ) -> HardwareQuery:
        """The query from untrusted text; raises `InvalidFilter` naming the first bad field."""
        return cls(
            maker=_text_filter("maker", maker),
            model=_text_filter("model", model),
            os=parse_os(os) if os is not None and os.strip() else None,
            q=_text_filter("q", q),
            features=frozenset(parse_feature(f) for f in features if f.strip()),
            sort=Sort.parse(sort),
        )

    def accepts(self, terminal: Terminal) -> bool:
        return (
            (self.maker is None or terminal.maker.casefold() == self.maker.casefold())
            and (self.model is None or terminal.model.casefold() == self.model.casefold())
            and (self.os is None or terminal.os is self.os)
            and (self.q is None or terminal.matches(self.q))
            and all(terminal.supports(f) for f in self.features)
        )


@dataclass(frozen=True)
class CompatibilityList:
    """The whole list: its edition (`version`), the date it was last updated and the tested terminals."""

    version: str
    updated: date
    terminals: tuple[Terminal, ...]

    def __post_init__(self) -> None:
        if not self.version.strip():
            raise ValueError("the list needs a version")
        if not self.terminals:
            raise ValueError("the list has no terminal")
        seen_ids: set[str] = set()
        seen_models: set[tuple[str, str, OperatingSystem]] = set()
        for terminal in self.terminals:
            if terminal.id in seen_ids:
                raise ValueError(f"terminal id {terminal.id} is listed twice")
            model = (terminal.maker.casefold(), terminal.model.casefold(), terminal.os)
            if model in seen_models:
                raise ValueError(f"{terminal.maker} {terminal.model} ({terminal.os.label}) is listed twice")
            seen_ids.add(terminal.id)
            seen_models.add(model)

    @property
    def makers(self) -> tuple[str, ...]:
        return tuple(sorted({t.maker for t in self.terminals}, key=str.casefold))

    def select(self, query: HardwareQuery | None = None) -> tuple[Terminal, ...]:
        query = query or HardwareQuery()
        return query.sort.apply(t for t in self.terminals if query.accepts(t))
