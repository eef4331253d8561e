"""HTTP API of the instances service, under /v1. Every route is scoped to the caller's partner:
it parses the request, calls one use case (`InstanceCommands` writes, `InstanceQueries` reads)
and shapes the answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import HTMLResponse

from contracts.events.common import InstanceType
from contracts.ingest_keys import InvalidIngestKey
from instances.domain.model import InstanceStatus, LicenseStatus, NewLicense, Stage
from instances.entrypoints.schemas import (
    ClearSessionIn,
    CompanyIn,
    CompanyOut,
    CompanyPatch,
    ContractOut,
    DeviceConfigurationOut,
    DraftIn,
    DraftPatch,
    ExtendIn,
    ExtendOut,
    ImpersonationOut,
    IngestKeyOut,
    InstanceOut,
    InstanceOverviewOut,
    InstancePatch,
    LicenseOut,
    LicensesAdded,
    LicensesIn,
    OptionalReasonIn,
    ReasonIn,
    Serial,
    company_data,
)
from instances.service_layer.commands import InstanceCommands
from instances.service_layer.ports import COMPANY_SORTS, INSTANCE_SORTS, CompanyQuery, InstanceQuery
from instances.service_layer.queries import InstanceQueries, LicenseQuery
from servicekit import merge_patch
from servicekit.api import DEFAULT_LIMIT, Cursor, Limit, PageOut, idempotency_key_header, provided
from servicekit.auth import CurrentPrincipal
from servicekit.i18n import DocumentLanguage, ReaderLanguage
from servicekit.idempotency import IdempotencyKeys, fingerprint
from servicekit.pagination import Sort

Commands = Annotated[InstanceCommands, provided(InstanceCommands)]
Queries = Annotated[InstanceQueries, provided(InstanceQueries)]
Idempotency = Annotated[IdempotencyKeys, provided(IdempotencyKeys)]

SearchText = Annotated[str | None, Query(min_length=1, max_length=100, description="Case-insensitive text")]
IdempotencyKey = Annotated[
    str,
    idempotency_key_header(
        "Same key, same instance: a retried generate never creates a second one. "
        "A key already used for another request is a 422."
    ),
]

INSTANCE_SORT_HELP = "created_at, name, expiry_date, type or status; prefix - for descending"

api = APIRouter(prefix="/v1")


# ------------------------------------------------------------------ companies


@api.get("/companies", tags=["companies"], summary="List and search the partner's companies")
async def list_companies(
    principal: CurrentPrincipal,
    queries: Queries,
    q: SearchText = None,
    sort: Annotated[str, Query(description="name, created_at or tax_id; - for descending")] = "name",
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> PageOut[CompanyOut]:
    page = await queries.search_companies(
        principal, CompanyQuery(text=q, sort=Sort.parse(sort, COMPANY_SORTS), limit=limit, cursor=cursor)
    )
    return PageOut[CompanyOut].model_validate(page)


@api.post("/companies", tags=["companies"], status_code=status.HTTP_201_CREATED, summary="Create a company")
async def create_company(body: CompanyIn, principal: CurrentPrincipal, commands: Commands) -> CompanyOut:
    return CompanyOut.model_validate(await commands.create_company(principal, body.data()))


@api.get("/companies/{company_id}", tags=["companies"], summary="One company")
async def get_company(company_id: str, principal: CurrentPrincipal, queries: Queries) -> CompanyOut:
    return CompanyOut.model_validate(await queries.company(principal, company_id))


@api.patch(
    "/companies/{company_id}",
    tags=["companies"],
    summary="Change a company's data (JSON Merge Patch)",
    openapi_extra=merge_patch.openapi_extra("CompanyPatch"),
)
async def update_company(
    company_id: str, body: CompanyPatch, principal: CurrentPrincipal, commands: Commands
) -> CompanyOut:
    sent: dict[str, Any] = body.model_dump(mode="json", exclude_unset=True)
    return CompanyOut.model_validate(await commands.update_company(principal, company_id, sent, company_data))


# ------------------------------------------------------------------ provisioning


@api.post(
    "/provisionings",
    tags=["provisioning"],
    status_code=status.HTTP_201_CREATED,
    summary="Start a new instance: a draft with its type and data",
)
async def create_draft(body: DraftIn, principal: CurrentPrincipal, commands: Commands) -> InstanceOut:
    instance = await commands.create_draft(
        principal,
        company_id=body.company_id,
        instance_type=body.type,
        name=body.name,
        configuration=body.configuration,
        term_months=body.term_months,
    )
    return InstanceOut.model_validate(instance)


@api.get("/provisionings", tags=["provisioning"], summary="Provisionings not generated yet (or cancelled)")
async def list_provisionings(
    principal: CurrentPrincipal,
    queries: Queries,
    stage: Annotated[list[Stage] | None, Query()] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> PageOut[InstanceOut]:
    stages = tuple(stage or (Stage.DRAFT, Stage.PROVISIONED))
    page = await queries.search_instances(principal, InstanceQuery(stages=stages, limit=limit, cursor=cursor))
    return PageOut[InstanceOut].model_validate(page)


@api.get("/provisionings/{instance_id}", tags=["provisioning"], summary="One provisioning")
async def get_provisioning(instance_id: str, principal: CurrentPrincipal, queries: Queries) -> InstanceOut:
    return InstanceOut.model_validate(await queries.provisioning(principal, instance_id))


@api.patch(
    "/provisionings/{instance_id}",
    tags=["provisioning"],
    summary="Change a draft (JSON Merge Patch)",
    openapi_extra=merge_patch.openapi_extra("DraftPatch"),
)
async def update_draft(
    instance_id: str, body: DraftPatch, principal: CurrentPrincipal, commands: Commands
) -> InstanceOut:
    sent = body.model_dump(exclude_unset=True)
    instance = await commands.update_draft(
        principal,
        instance_id,
        name=sent.get("name"),
        configuration=sent.get("configuration"),
        term_months=sent.get("term_months"),
    )
    return InstanceOut.model_validate(instance)


@api.post(
    "/provisionings/{instance_id}/provision",
    tags=["provisioning"],
    summary="Generate the contract to read; still cancellable",
    responses={409: {"description": "Not a draft; the answer names the current state"}},
)
async def provision(instance_id: str, principal: CurrentPrincipal, commands: Commands) -> InstanceOut:
    return InstanceOut.model_validate(await commands.provision(principal, instance_id))


@api.post("/provisionings/{instance_id}/cancel", tags=["provisioning"], summary="Cancel before generating")
async def cancel_provisioning(instance_id: str, principal: CurrentPrincipal, commands: Commands) -> InstanceOut:
    return InstanceOut.model_validate(await commands.cancel_provisioning(principal, instance_id))


@api.post(
    "/provisionings/{instance_id}/generate",
    tags=["provisioning"],
    status_code=status.HTTP_201_CREATED,
    summary="Create the instance (irreversible); idempotent under Idempotency-Key",
    responses={
        409: {"description": "Not provisioned, or generated with another key"},
        422: {"description": "Invalid request, or the Idempotency-Key was used for another request"},
    },
)
async def generate(
    instance_id: str,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey,
    request: Request,
    response: Response,
    commands: Commands,
    idempotency: Idempotency,
) -> InstanceOut:
    async with idempotency.request(principal, idempotency_key, fingerprint("POST", request.url.path)):
        instance = await commands.generate(principal, instance_id, idempotency_key)
    response.headers["Location"] = f"/v1/instances/{instance.id}"
    return InstanceOut.model_validate(instance)


@api.get("/provisionings/{instance_id}/contract", tags=["provisioning"], summary="The contract, as data")
async def contract(
    instance_id: str, principal: CurrentPrincipal, language: ReaderLanguage, queries: Queries
) -> ContractOut:
    contract = await queries.contract(principal, instance_id)
    return ContractOut.model_validate(contract, context={"language": language})


@api.get(
    "/provisionings/{instance_id}/contract.html",
    tags=["provisioning"],
    response_class=HTMLResponse,
    summary="The contract, to read",
)
async def contract_html(
    instance_id: str, principal: CurrentPrincipal, language: DocumentLanguage, queries: Queries
) -> HTMLResponse:
    return HTMLResponse(await queries.contract_html(principal, instance_id, language))


@api.get(
    "/provisionings/{instance_id}/contract.pdf",
    tags=["provisioning"],
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="The contract, as PDF",
)
async def contract_pdf(
    instance_id: str, principal: CurrentPrincipal, language: DocumentLanguage, queries: Queries
) -> Response:
    pdf = await queries.contract_pdf(principal, instance_id, language)
    return Response(
        pdf.content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{pdf.number}.pdf"'},
    )


# ------------------------------------------------------------------ instances


@api.get("/instances", tags=["instances"], summary="The partner's instances, filtered, sorted, paginated")
async def list_instances(
    principal: CurrentPrincipal,
    queries: Queries,
    type: Annotated[InstanceType | None, Query()] = None,
    status_: Annotated[InstanceStatus | None, Query(alias="status")] = None,
    company_id: Annotated[str | None, Query(max_length=64)] = None,
    q: SearchText = None,
    expiring_within_days: Annotated[int | None, Query(ge=0, le=3660)] = None,
    sort: Annotated[str, Query(description=INSTANCE_SORT_HELP)] = "-created_at",
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> PageOut[InstanceOut]:
    query = InstanceQuery(
        type=type,
        status=status_,
        company_id=company_id,
        text=q,
        expiring_within_days=expiring_within_days,
        sort=Sort.parse(sort, INSTANCE_SORTS),
        limit=limit,
        cursor=cursor,
    )
    return PageOut[InstanceOut].model_validate(await queries.search_instances(principal, query))


@api.get("/instances/{instance_id}", tags=["instances"], summary="One instance")
async def get_instance(instance_id: str, principal: CurrentPrincipal, queries: Queries) -> InstanceOut:
    return InstanceOut.model_validate(await queries.instance(principal, instance_id))


@api.get(
    "/instances/{instance_id}/overview",
    tags=["instances"],
    summary="One instance and a first page of its licenses, read together (a composed screen's part)",
)
async def get_instance_overview(
    instance_id: str,
    principal: CurrentPrincipal,
    queries: Queries,
    license_limit: Annotated[int, Query(ge=1, le=100, description="Licenses on the page, by user name")] = 50,
) -> InstanceOverviewOut:
    overview = await queries.instance_overview(principal, instance_id, LicenseQuery(limit=license_limit))
    return InstanceOverviewOut.model_validate(overview)


@api.patch(
    "/instances/{instance_id}",
    tags=["instances"],
    summary="Edit an instance's data and configuration (JSON Merge Patch)",
    openapi_extra=merge_patch.openapi_extra("InstancePatch"),
)
async def edit_instance(
    instance_id: str, body: InstancePatch, principal: CurrentPrincipal, commands: Commands
) -> InstanceOut:
    sent = body.model_dump(exclude_unset=True)
    instance = await commands.edit_instance(
        principal, instance_id, name=sent.get("name"), configuration=sent.get("configuration")
    )
    return InstanceOut.model_validate(instance)


@api.post("/instances/{instance_id}/extend", tags=["instances"], summary="Extend the expiry date, at once (R-03)")
async def extend(instance_id: str, body: ExtendIn, principal: CurrentPrincipal, commands: Commands) -> ExtendOut:
    instance = await commands.extend(principal, instance_id, body.new_expiry_date)
    return ExtendOut(instance_id=instance.id, expiry_date=instance.expiry_date or body.new_expiry_date)


@api.post(
    "/instances/{instance_id}/cancellation-request",
    tags=["instances"],
    summary="Request the instance's cancellation, with a reason (R-25)",
)
async def request_cancellation(
    instance_id: str, body: ReasonIn, principal: CurrentPrincipal, commands: Commands
) -> InstanceOut:
    return InstanceOut.model_validate(await commands.request_cancellation(principal, instance_id, body.reason))


@api.post(
    "/instances/{instance_id}/clear-session",
    tags=["instances"],
    summary="Make one terminal, or all, log in again and fetch the configuration (R-23)",
)
async def clear_session(
    instance_id: str, body: ClearSessionIn, principal: CurrentPrincipal, commands: Commands
) -> InstanceOut:
    return InstanceOut.model_validate(await commands.clear_session(principal, instance_id, body.serial))


@api.post(
    "/instances/{instance_id}/ingest-key",
    tags=["instances"],
    summary="Issue a new ingest key for the instance's terminals (the previous one stops working)",
)
async def rotate_ingest_key(instance_id: str, principal: CurrentPrincipal, commands: Commands) -> IngestKeyOut:
    instance, key = await commands.rotate_ingest_key(principal, instance_id)
    return IngestKeyOut(instance_id=instance.id, ingest_key=key)


# ------------------------------------------------------------------ licenses


@api.get("/instances/{instance_id}/licenses", tags=["licenses"], summary="An instance's licenses, searchable")
async def list_licenses(
    instance_id: str,
    principal: CurrentPrincipal,
    queries: Queries,
    q: SearchText = None,
    status_: Annotated[LicenseStatus | None, Query(alias="status")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> PageOut[LicenseOut]:
    page = await queries.search_licenses(
        principal, instance_id, LicenseQuery(text=q, status=status_, limit=limit, cursor=cursor)
    )
    return PageOut[LicenseOut].model_validate(page)


@api.post(
    "/instances/{instance_id}/licenses",
    tags=["licenses"],
    status_code=status.HTTP_201_CREATED,
    summary="Add one or many licenses (all or none)",
)
async def add_licenses(
    instance_id: str, body: LicensesIn, principal: CurrentPrincipal, commands: Commands
) -> LicensesAdded:
    new = [NewLicense(x.user_name, str(x.email), x.pin, x.serial) for x in body.licenses]
    return LicensesAdded(license_ids=await commands.add_licenses(principal, instance_id, new))


@api.get("/instances/{instance_id}/licenses/{license_id}", tags=["licenses"], summary="One license")
async def get_license(instance_id: str, license_id: str, principal: CurrentPrincipal, queries: Queries) -> LicenseOut:
    return LicenseOut.model_validate(await queries.license(principal, instance_id, license_id))


@api.post(
    "/instances/{instance_id}/licenses/{license_id}/revoke",
    tags=["licenses"],
    summary="Cancel a license, with a reason (R-26)",
)
async def revoke_license(
    instance_id: str, license_id: str, body: ReasonIn, principal: CurrentPrincipal, commands: Commands
) -> LicenseOut:
    return LicenseOut.model_validate(await commands.revoke_license(principal, instance_id, license_id, body.reason))


@api.post(
    "/instances/{instance_id}/licenses/{license_id}/release",
    tags=["licenses"],
    summary="Free the license from its terminal (R-43)",
)
async def release_license(
    instance_id: str, license_id: str, body: OptionalReasonIn, principal: CurrentPrincipal, commands: Commands
) -> LicenseOut:
    return LicenseOut.model_validate(await commands.release_license(principal, instance_id, license_id, body.reason))


@api.post(
    "/instances/{instance_id}/licenses/{license_id}/impersonate",
    tags=["licenses"],
    summary="Open the web panel as the license's user: a short-lived token, audited (R-22)",
)
async def impersonate(
    instance_id: str, license_id: str, body: ReasonIn, principal: CurrentPrincipal, commands: Commands
) -> ImpersonationOut:
    return ImpersonationOut.model_validate(await commands.impersonate(principal, instance_id, license_id, body.reason))


# ------------------------------------------------------------------ terminals


@api.get(
    "/device/configuration",
    tags=["device"],
    summary="For terminals: the configuration and the session epoch they must have seen",
    responses={401: {"description": "Unknown or revoked ingest key"}},
)
async def device_configuration(
    serial: Annotated[Serial, Query()],
    queries: Queries,
    ingest_key: Annotated[str | None, Header(alias="X-Ingest-Key", max_length=200)] = None,
) -> DeviceConfigurationOut:
    if not ingest_key:  # a missing credential is a 401, like a wrong one
        raise InvalidIngestKey("An X-Ingest-Key header is required.")
    return DeviceConfigurationOut.model_validate(await queries.device_view(ingest_key, serial))
