"""The reader's language: Spanish or English, from `Accept-Language` (RFC 9110 §12.5.4).

The web app sends the language of its UI on every call and the gateway forwards it (or the
user's profile language when a client sends none); services render what a user reads with it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Header

Language = Literal["es", "en"]
LANGUAGES: tuple[Language, ...] = ("es", "en")
DEFAULT_LANGUAGE: Language = "es"
MAX_HEADER_CHARS = 512  # a longer header is not a reader's preference: it is ignored


def as_language(value: object, default: Language = DEFAULT_LANGUAGE) -> Language:
    """`value` when it is one of the supported languages, else `default`."""
    for language in LANGUAGES:
        if value == language:
            return language
    return default


def negotiate(accept_language: str | None, default: Language = DEFAULT_LANGUAGE) -> Language:
    """The supported language the header prefers most (`es-ES`, `en-GB;q=0.8` match by their
    primary tag); `default` when it names none of them, is absent or malformed."""
    if not accept_language or len(accept_language) > MAX_HEADER_CHARS:
        return default
    best: tuple[float, int] | None = None
    chosen: Language = default
    for position, item in enumerate(accept_language.split(",")):
        tag, _, parameters = item.strip().partition(";")
        primary = tag.strip().split("-")[0].lower()
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0 or quality > 1:
            continue
        if primary == "*":
            primary = default
        if primary not in LANGUAGES:
            continue
        rank = (quality, -position)  # equal weights: the first listed wins
        if best is None or rank > best:
            best, chosen = rank, as_language(primary, default)
    return chosen


def request_language(
    accept_language: Annotated[
        str | None,
        Header(alias="Accept-Language", description="es or en (default es): the language of the texts returned"),
    ] = None,
) -> Language:
    return negotiate(accept_language)


ReaderLanguage = Annotated[Language, Depends(request_language)]
"""A route's parameter: the language to render the texts it returns in."""


_STATUS_TITLES: dict[int, dict[Language, str]] = {
    400: {"es": "Petición incorrecta", "en": "Bad request"},
    401: {"es": "No autenticado", "en": "Unauthorized"},
    403: {"es": "No permitido", "en": "Forbidden"},
    404: {"es": "No encontrado", "en": "Not found"},
    405: {"es": "Método no permitido", "en": "Method not allowed"},
    409: {"es": "Conflicto", "en": "Conflict"},
    413: {"es": "Petición demasiado grande", "en": "Request body too large"},
    415: {"es": "Tipo de contenido no admitido", "en": "Unsupported media type"},
    422: {"es": "Petición no válida", "en": "Invalid request"},
    429: {"es": "Demasiadas peticiones", "en": "Too many requests"},
    500: {"es": "Error interno", "en": "Internal error"},
    503: {"es": "Servicio no disponible", "en": "Service unavailable"},
}


def status_title(status: int, language: Language) -> str | None:
    """A problem's `title` for its status in `language`; None for a status without one."""
    titles = _STATUS_TITLES.get(status)
    return titles[language] if titles else None
