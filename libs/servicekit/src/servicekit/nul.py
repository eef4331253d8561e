"""U+0000 (NUL) never reaches the store: refused at the HTTP edge (422) and dead-lettered by consumers.

FerretDB on PostgreSQL cannot store a string holding U+0000, nor even look one up (PostgreSQL's
jsonb refuses it: an internal error, a 500); BSON refuses it in a key on any store. So a request
whose JSON body (any string, value or key, at any depth), form field, query or path parameter
holds one is answered 422 naming the field, before the route runs, on every route of every
service (`refuse_nul`, installed by `ServiceRuntime.create_app`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.convertors import PathConvertor
from starlette.datastructures import UploadFile

from servicekit.errors import InvalidInput, field_error
from servicekit.i18n import field_text, negotiate

NUL = "\x00"
NUL_CODE = "nul_character"
_ESCAPED = b"\\u0000"  # how JSON writes U+0000 (a raw NUL byte is not valid JSON at all)


def nul_locations(value: object, path: str = "") -> Iterator[str]:
    """The dotted paths (`events.0.serial`; `(body)` for the root) of every string in `value`,
    value or key, that holds U+0000 (a key is named as sent, U+0000 included, as pydantic names it)."""
    if isinstance(value, str):
        if NUL in value:
            yield path or "(body)"
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                yield name
            yield from nul_locations(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from nul_locations(item, f"{path}.{index}" if path else str(index))


def json_nul_locations(raw: bytes) -> list[str]:
    """`nul_locations` of a JSON document; decoded only when it holds the escape at all (cheap
    for the rest). Not JSON: none (whoever parses it answers that)."""
    if _ESCAPED not in raw:
        return []
    try:
        return list(nul_locations(json.loads(raw)))
    except ValueError:
        return []


async def _body_locations(request: Request) -> list[tuple[str, str]]:
    """Where the body the route reads holds U+0000. Only a route that declares a body: the body is
    then already read (FastAPI reads it before the dependencies run; these calls return it cached),
    and a route streaming its body (the gateway's proxy) is never buffered here."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return []
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        found = []
        for name, value in form.multi_items():
            if NUL in name or (isinstance(value, str) and NUL in value):
                found.append((name, "body"))
            elif isinstance(value, UploadFile) and value.filename and NUL in value.filename:
                found.append((f"{name}.filename", "body"))
        return found
    return [(location, "body") for location in json_nul_locations(await request.body())]


async def refuse_nul(request: Request) -> None:
    """An app-wide dependency: 422 problem+json naming each field that holds U+0000; the route
    (and so every change it would make) does not run."""
    # A catch-all parameter (`{rest:path}`, the gateway's proxy) names no field of the caller's: `(path)`.
    convertors = getattr(request.scope.get("route"), "param_convertors", {})
    found = [
        ("(path)" if isinstance(convertors.get(name), PathConvertor) else name, "path")
        for name, value in request.path_params.items()
        if NUL in str(value)
    ]
    found += [(name, "query") for name, value in request.query_params.multi_items() if NUL in name or NUL in value]
    found += await _body_locations(request)
    if not found:
        return
    language = negotiate(request.headers.get("accept-language"))
    english = field_text(NUL_CODE, "en") or ""
    errors = [field_error(name, NUL_CODE, english, where=where) for name, where in dict.fromkeys(found)]
    fields = ", ".join(sorted({str(e["field"]) for e in errors}))
    raise InvalidInput(errors, detail=f"{fields}: {field_text(NUL_CODE, language)}")
