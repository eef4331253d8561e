"""The reader's language: Spanish or English, from `Accept-Language` (RFC 9110 §12.5.4).

The web app sends the language of its UI on every call and the gateway forwards it (or the
user's profile language when a client sends none); services render what a user reads with it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Header, Query

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

LangQuery = Annotated[
    Language | None,
    Query(description="es or en: the document's language, over Accept-Language (for a link to share)"),
]


def document_language(reader: ReaderLanguage, lang: LangQuery = None) -> Language:
    return lang or reader


DocumentLanguage = Annotated[Language, Depends(document_language)]
"""A document route's parameter: `?lang=` when given, else the reader's language."""


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


# Spanish for pydantic's messages a form shows beside a field, by error type (`ctx` fills them);
# English readers get pydantic's own words, and a type not listed here keeps them in any language.
_VALIDATION_ES: dict[str, str] = {
    "missing": "es obligatorio",
    "extra_forbidden": "no se admite este campo",
    "string_type": "debe ser un texto",
    "string_too_short": "debe tener al menos {min_length} caracteres",
    "string_too_long": "debe tener como mucho {max_length} caracteres",
    "string_pattern_mismatch": "no tiene el formato esperado",
    "too_short": "debe tener al menos {min_length} elementos",
    "too_long": "debe tener como mucho {max_length} elementos",
    "int_parsing": "debe ser un número entero",
    "int_type": "debe ser un número entero",
    "int_from_float": "debe ser un número entero",
    "float_parsing": "debe ser un número",
    "float_type": "debe ser un número",
    "bool_parsing": "debe ser verdadero o falso",
    "greater_than": "debe ser mayor que {gt}",
    "greater_than_equal": "debe ser mayor o igual que {ge}",
    "less_than": "debe ser menor que {lt}",
    "less_than_equal": "debe ser menor o igual que {le}",
    "literal_error": "debe ser uno de: {expected}",
    "enum": "debe ser uno de: {expected}",
    "date_parsing": "debe ser una fecha (AAAA-MM-DD)",
    "date_from_datetime_parsing": "debe ser una fecha (AAAA-MM-DD)",
    "datetime_parsing": "debe ser una fecha y hora (ISO 8601)",
    "datetime_from_date_parsing": "debe ser una fecha y hora (ISO 8601)",
    "timezone_aware": "debe indicar la zona horaria",
    "json_invalid": "el cuerpo no es JSON válido",
    "model_attributes_type": "debe ser un objeto",
    "dict_type": "debe ser un objeto",
    "list_type": "debe ser una lista",
}


# The field messages our own code writes, by code, in both languages: a validator raises
# `PydanticCustomError(code, FIELD_MESSAGES[code]["en"], params)` and a problem built by hand names
# the code (`servicekit.problems.field_error`); the edge words it for the reader.
FIELD_MESSAGES: dict[str, dict[Language, str]] = {
    "not_null": {"es": "no puede ser null: {field} es obligatorio", "en": "must not be null: {field} is required"},
    "object_type": {"es": "debe ser un objeto", "en": "must be an object"},
    "message_empty": {"es": "el mensaje está vacío", "en": "the message is empty"},
    "file_too_large": {
        "es": "{filename} supera el tamaño máximo de {max_bytes} bytes",
        "en": "{filename} is larger than {max_bytes} bytes",
    },
    "unsupported_type": {
        "es": "{filename} no es una imagen JPEG, PNG o WebP ni un PDF",
        "en": "{filename} is not a JPEG, PNG or WebP image nor a PDF",
    },
    "attachments_max": {
        "es": "como mucho {max} adjuntos distintos",
        "en": "at most {max} distinct attachments",
    },
    "attachment_unusable": {
        "es": "{id} no es un archivo subido a este hilo por tu parte y aún sin enviar",
        "en": "{id} is not an unsent upload of this thread by your side",
    },
    "canned_reply_unknown": {"es": "no existe esa respuesta predefinida", "en": "no such canned reply"},
    "language_required": {"es": "falta la versión en este idioma", "en": "this language's version is required"},
    "variable_unknown": {
        "es": "{variable} no es una variable conocida; usa una de: {known}",
        "en": "{variable} is not a known variable; use one of: {known}",
    },
    "search_words": {
        "es": "indica al menos una palabra de dos o más caracteres",
        "en": "name at least one word of two characters or more",
    },
    "control_characters": {"es": "no se admiten caracteres de control", "en": "control characters are not allowed"},
    "nul_character": {
        "es": "no puede contener el carácter NUL (U+0000)",
        "en": "must not contain the NUL character (U+0000)",
    },
    "serial_or_pin": {"es": "indica el número de serie o el PIN, uno solo", "en": "exactly one of serial or pin"},
    "in_the_future": {"es": "es una fecha futura", "en": "is in the future"},
    "older_than_days": {"es": "tiene más de {days} días", "en": "is older than {days} days"},
    "window_offset": {"es": "from y to deben indicar la zona horaria", "en": "from and to need a time zone offset"},
    "window_range": {
        "es": "from y to deben estar entre los años 1 y 9999 (UTC)",
        "en": "from and to must lie between the years 1 and 9999 (UTC)",
    },
    "window_order": {"es": "from debe ser anterior a to", "en": "from must be before to"},
    "window_span": {
        "es": "el periodo puede abarcar como mucho {days} días",
        "en": "the window can span at most {days} days",
    },
    "after_to": {"es": "es posterior a to", "en": "after to"},
    "sort_unknown": {
        "es": "no se puede ordenar por {value}; elige entre {choices}",
        "en": "cannot sort by {value}; choose from {choices}",
    },
    "cursor_invalid": {
        "es": "el cursor no es uno de los que devuelve esta API",
        "en": "the cursor is not one this API returned",
    },
    "years_1_9999": {
        "es": "debe estar entre los años 1 y 9999 en UTC",
        "en": "must lie between the years 1 and 9999 in UTC",
    },
    "url_spaces": {
        "es": "no puede contener espacios ni caracteres de control",
        "en": "must not contain spaces or control characters",
    },
    "url_invalid": {"es": "no es una URL válida", "en": "is not a valid URL"},
    "url_https": {"es": "debe ser una URL https", "en": "must be an https URL"},
    "url_credentials": {"es": "no puede contener credenciales", "en": "must not contain credentials"},
    "push_service_unknown": {
        "es": "no es la URL de un servicio de notificaciones conocido",
        "en": "is not the URL of a known push service",
    },
    "idempotency_key_reused": {
        "es": "ya se usó para otra petición; envía una clave nueva con una petición nueva",
        "en": "already used for another request; send a new key with a new request",
    },
    "not_base64url": {"es": "no está en base64url", "en": "not base64url"},
    "p256_key": {
        "es": "debe ser una clave pública P-256 sin comprimir (65 bytes, base64url)",
        "en": "must be an uncompressed P-256 public key (65 bytes, base64url)",
    },
    "p256_point": {"es": "no es un punto de P-256", "en": "is not a point on P-256"},
    "auth_secret_length": {"es": "debe tener 16 bytes, en base64url", "en": "must be 16 bytes, base64url"},
    "partner_not_yours": {
        "es": "El partner {partner_id} no es uno de los tuyos.",
        "en": "Partner {partner_id} is not one of yours.",
    },
    "password_too_short": {
        "es": "La contraseña debe tener al menos {limit} caracteres.",
        "en": "The password must have at least {limit} characters.",
    },
    "password_too_long": {
        "es": "La contraseña debe tener como mucho {limit} caracteres.",
        "en": "The password must have at most {limit} characters.",
    },
    "password_is_email": {
        "es": "La contraseña no puede ser la dirección de correo.",
        "en": "The password must not be the e-mail address.",
    },
    "partner_not_associated": {
        "es": "No estás asociado a este partner.",
        "en": "You are not associated with this partner.",
    },
    "go_together": {"es": "{first} y {second} van juntos", "en": "{first} and {second} go together"},
    "period_order": {
        "es": "el periodo termina ({last}) antes de empezar ({first})",
        "en": "the period ends ({last}) before it starts ({first})",
    },
    "period_span": {
        "es": "el periodo puede abarcar como mucho {days} días",
        "en": "the period may span at most {days} days",
    },
    "at_most_months": {"es": "como mucho {months} meses", "en": "at most {months} months"},
    "type_mismatch": {"es": "debe ser {expected}", "en": "must be {expected}"},
    "not_repeated": {"es": "no puede tener valores repetidos", "en": "{what} must not repeat"},
    "time_zone_unknown": {"es": "zona horaria desconocida: {value}", "en": "unknown time zone {value}"},
    "hardware_sort": {
        "es": "Orden desconocido {value}; usa uno de: {choices}.",
        "en": "Unknown sort {value}; use one of: {choices}.",
    },
    "hardware_feature": {
        "es": "Característica desconocida {value}; usa una de: {choices}.",
        "en": "Unknown feature {value}; use one of: {choices}.",
    },
    "hardware_os": {
        "es": "Sistema operativo desconocido {value}; usa uno de: {choices}.",
        "en": "Unknown operating system {value}; use one of: {choices}.",
    },
    "at_most_characters": {"es": "Como mucho {limit} caracteres.", "en": "At most {limit} characters."},
    # The working-time record (activity)
    "unknown_time_zone": {"es": "no es una zona horaria IANA conocida", "en": "is not a known IANA time zone"},
    "date_range": {
        "es": "debe estar entre los años {first} y {last}",
        "en": "must lie between the years {first} and {last}",
    },
    "invalid_month": {"es": "debe ser un mes con la forma AAAA-MM", "en": "must be a month as YYYY-MM"},
    "reason_required": {
        "es": "es obligatorio, como mucho {limit} caracteres",
        "en": "is required, at most {limit} characters",
    },
    "start_not_on_date": {
        "es": "el inicio debe caer en la fecha corregida",
        "en": "the start must fall on the corrected date",
    },
    "end_before_start": {"es": "el fin debe ser posterior al inicio", "en": "the end must be after the start"},
    "shift_too_long": {
        "es": "una jornada no puede durar más de 24 horas",
        "en": "a day's work cannot last more than 24 hours",
    },
    "pause_outside_work": {
        "es": "una pausa debe quedar entre el inicio y el fin",
        "en": "a pause must lie within start and end",
    },
    "url_private": {
        "es": "no puede apuntar a una dirección privada, local o reservada",
        "en": "must not point to a private, loopback or reserved address",
    },
    "webhook_event_type": {
        "es": "Tipo de evento desconocido {value}; usa uno del catálogo.",
        "en": "Unknown event type {value}; use the catalogue's.",
    },
    "at_least_one": {"es": "Elige al menos uno.", "en": "Choose at least one."},
}


def field_text(code: str, language: Language, params: dict[str, object] | None = None) -> str | None:
    """The message `code` names in `language`, filled with `params`; None for an unknown code."""
    templates = FIELD_MESSAGES.get(code)
    if templates is None:
        return None
    try:
        return templates[language].format_map({key: str(value) for key, value in (params or {}).items()})
    except (KeyError, ValueError):
        return None


def validation_message(error_type: str, message: str, ctx: dict[str, object] | None, language: Language) -> str:
    """A field's validation message in `language`: our own codes in either language; pydantic's
    types in Spanish, else `message` (pydantic's, English) when there is no translation for its type."""
    own = field_text(error_type, language, ctx)
    if own is not None:
        return own
    template = _VALIDATION_ES.get(error_type) if language == "es" else None
    if template is None:
        return message
    try:
        return template.format_map({key: str(value) for key, value in (ctx or {}).items()})
    except (KeyError, ValueError):
        return message
