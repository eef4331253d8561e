"""The hardware compatibility list (R-60) under `/api/v1`: as JSON for the web app, and as a PDF to download.

The list is public product information: these routes need no authentication.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from gateway.domain.hardware import MAX_FILTER_LENGTH, SORT_VALUES, Feature, OperatingSystem, Support
from gateway.entrypoints.http import Queries, profile_language
from servicekit.api import ResponseModel
from servicekit.i18n import DEFAULT_LANGUAGE, LangQuery, Language, negotiate

PDF_FILENAME = "hardware-compatibility.pdf"


class LabelsOut(BaseModel):
    en: str
    es: str


class FeatureOut(BaseModel):
    key: Feature
    labels: LabelsOut


class SupportLevelOut(BaseModel):
    key: Support
    labels: LabelsOut


class FeatureSupportOut(ResponseModel):
    support: Support
    note: str | None = None


class TerminalOut(ResponseModel):
    id: str
    maker: str
    model: str
    os: OperatingSystem
    os_label: str = Field(description='The OS as shown: "Android", "iOS".')
    os_versions: list[str] = Field(description="The OS versions the terminal was tested on, oldest first.")
    tested_app_version: str = Field(description="The Working Day Suite version tested.")
    features: dict[Feature, FeatureSupportOut] = Field(description="The result of every feature.")


_EXAMPLE_FEATURES: JsonDict = {f.value: {"support": "supported", "note": None} for f in Feature}
_EXAMPLE_FEATURES["biometric"] = {"support": "unsupported", "note": "No fingerprint or face sensor; PIN sign-in only"}


class HardwareListOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": "2026.4",
                    "updated": "2026-11-16",
                    "total": 25,
                    "features": [
                        {
                            "key": "barcode_scanner",
                            "labels": {"en": "Barcode scanner", "es": "Lector de códigos de barras"},
                        },
                        {"key": "nfc", "labels": {"en": "NFC", "es": "NFC"}},
                    ],
                    "support_levels": [
                        {"key": "supported", "labels": {"en": "Yes", "es": "Sí"}},
                        {"key": "partial", "labels": {"en": "Partial", "es": "Parcial"}},
                        {"key": "unsupported", "labels": {"en": "No", "es": "No"}},
                    ],
                    "makers": ["Apple", "Datalogic", "Honeywell", "Samsung", "Sunmi", "Urovo", "Zebra"],
                    "items": [
                        {
                            "id": "zebra-tc53",
                            "maker": "Zebra",
                            "model": "TC53",
                            "os": "android",
                            "os_label": "Android",
                            "os_versions": ["13", "14"],
                            "tested_app_version": "7.2.0",
                            "features": _EXAMPLE_FEATURES,
                        }
                    ],
                }
            ]
        }
    )
    version: str = Field(description="The edition of the list.")
    updated: date = Field(description="When the list was last updated.")
    total: int = Field(description="How many tested terminals the whole list has (before filters).")
    features: list[FeatureOut] = Field(description="The features, in column order, with English and Spanish labels.")
    support_levels: list[SupportLevelOut] = Field(description="The results a feature can have, with labels.")
    makers: list[str] = Field(description="Every maker in the list (for a filter's choices).")
    items: list[TerminalOut] = Field(description="The terminals that pass the filters, in the order asked.")


MakerQ = Annotated[
    str | None, Query(max_length=MAX_FILTER_LENGTH, description="Exact maker, any case.", examples=["Zebra"])
]
ModelQ = Annotated[str | None, Query(max_length=MAX_FILTER_LENGTH, description="Exact model, any case.")]
OsQ = Annotated[
    str | None, Query(description="Operating system.", json_schema_extra={"enum": [o.value for o in OperatingSystem]})
]
SearchQ = Annotated[
    str | None, Query(max_length=MAX_FILTER_LENGTH, description="Text in the maker, the model or the OS and versions.")
]
FeatureQ = Annotated[
    list[str] | None,
    Query(
        description="Only terminals that fully support this feature (repeat for several: all of them).",
        json_schema_extra={"items": {"type": "string", "enum": [f.value for f in Feature]}},
    ),
]
SortQ = Annotated[
    str,
    Query(
        description="Order: maker (default), model, os, os_version (latest tested), app_version; `-` for descending.",
        json_schema_extra={"enum": list(SORT_VALUES)},
    ),
]


async def document_language(
    request: Request,
    queries: Queries,
    lang: LangQuery = None,
    accept_language: Annotated[
        str | None, Header(alias="Accept-Language", description="es or en (default es): the document's language")
    ] = None,
) -> Language:
    # As on the forwarded routes: ?lang=, else Accept-Language, else the caller's profile, else es.
    if lang:
        return lang
    if accept_language:
        return negotiate(accept_language)
    return await profile_language(request, queries) or DEFAULT_LANGUAGE


api = APIRouter(prefix="/api/v1", tags=["hardware"])


@api.get("/hardware", summary="The hardware compatibility list of tested terminals (R-60)")
async def hardware_list(
    queries: Queries,
    maker: MakerQ = None,
    model: ModelQ = None,
    os: OsQ = None,
    q: SearchQ = None,
    feature: FeatureQ = None,
    sort: SortQ = "maker",
) -> HardwareListOut:
    """Which Working Day Suite hardware features work on each tested terminal (maker, OS and version).

    Public product information: no authentication is required. Filters combine (AND); an unknown
    `feature`, `os` or `sort` is answered 422 naming the field. The feature and result labels come in
    English and Spanish so the web app can show either language.
    """
    selection = await queries.hardware_list(maker=maker, model=model, os=os, q=q, features=feature or (), sort=sort)
    compatibility = selection.compatibility
    return HardwareListOut(
        version=compatibility.version,
        updated=compatibility.updated,
        total=len(compatibility.terminals),
        features=[FeatureOut(key=f, labels=LabelsOut(en=f.labels.en, es=f.labels.es)) for f in Feature],
        support_levels=[SupportLevelOut(key=s, labels=LabelsOut(en=s.labels.en, es=s.labels.es)) for s in Support],
        makers=list(compatibility.makers),
        items=[TerminalOut.model_validate(t) for t in selection.items],
    )


DocumentLanguage = Annotated[Language, Depends(document_language)]


@api.get(
    "/hardware.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The list as a landscape A4 PDF."}},
    summary="The hardware compatibility list as a PDF to download (R-60)",
)
async def hardware_pdf(
    language: DocumentLanguage,
    queries: Queries,
    maker: MakerQ = None,
    model: ModelQ = None,
    os: OsQ = None,
    q: SearchQ = None,
    feature: FeatureQ = None,
    sort: SortQ = "maker",
) -> Response:
    """The same list and filters as `GET /api/v1/hardware`, as a document (an attachment).

    Public product information: no authentication is required. In `?lang=`, else the
    `Accept-Language` language, else (signed in) the profile's language, else Spanish.
    """
    document = await queries.hardware_pdf(
        language=language, maker=maker, model=model, os=os, q=q, features=feature or (), sort=sort
    )
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{PDF_FILENAME}"'},
    )
