"""HTTP API of the instances service, under /v1. Every route is scoped to the caller's partner."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError

from contracts.events.common import InstanceType
from contracts.ingest_keys import InvalidIngestKey
from instances.domain.company import Address, Company
from instances.domain.configuration import InvalidConfiguration
from instances.domain.errors import DomainError
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
    InstancePatch,
    LicenseOut,
    LicensesAdded,
    LicensesIn,
    OptionalReasonIn,
    PageOut,
    ReasonIn,
    Serial,
)
from instances.service_layer.commands import CompanyData, InstanceCommands
from instances.service_layer.ports import COMPANY_SORTS, INSTANCE_SORTS, CompanyQuery, ContractDocuments, InstanceQuery
from servicekit import merge_patch
from servicekit.auth import CurrentPrincipal
from servicekit.i18n import DocumentLanguage, ReaderLanguage
from servicekit.idempotency import KEY_PATTERN, IdempotencyKeys, fingerprint
from servicekit.pagination import DEFAULT_LIMIT, MAX_LIMIT, InvalidCursor, InvalidSort, Sort
from servicekit.problems import Problem, field_error, invalid_body, problem_response

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]
Cursor = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page")]
SearchText = Annotated[str | None, Query(min_length=1, max_length=100, description="Case-insensitive text")]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=128,
        pattern=KEY_PATTERN,
        description=(
            "Same key, same instance: a retried generate never creates a second one. "
            "A key already used for another request is a 422."
        ),
    ),
]

INSTANCE_SORT_HELP = "created_at, name, expiry_date, type or status; prefix - for descending"


def _sort(text: str, allowed: dict[str, str]) -> Sort:
    try:
        return Sort.parse(text, allowed)
    except InvalidSort as exc:
        error = field_error("sort", "sort_unknown", str(exc), where="query", params=exc.params)
        raise Problem(422, "validation", str(exc), errors=[error]) from exc


def _today() -> Any:
    return datetime.now(UTC).date()


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(request, exc.status, exc.slug, exc.detail, **exc.extensions)

    @app.exception_handler(InvalidConfiguration)
    async def _configuration(request: Request, exc: InvalidConfiguration) -> JSONResponse:
        fields = ", ".join(sorted({e["field"] for e in exc.errors}))
        return problem_response(
            request,
            422,
            "validation",
            f"Invalid value for: {fields}.",
            errors=[{**e, "in": "body"} for e in exc.errors],
        )


def _company_fields(company: Company) -> dict[str, Any]:
    """The company as a full `CompanyIn` body: what a merge patch applies to."""
    return {
        "name": company.name,
        "tax_id": company.tax_id,
        "address": vars(company.address),
        "contact_person": company.contact_person,
        "email": company.email,
        "phone": company.phone,
    }


def router(  # noqa: PLR0915
    commands: InstanceCommands, documents: ContractDocuments, idempotency: IdempotencyKeys
) -> APIRouter:
    api = APIRouter(prefix="/v1")

    # ------------------------------------------------------------------ companies

    @api.get("/companies", tags=["companies"], summary="List and search the partner's companies")
    async def list_companies(
        principal: CurrentPrincipal,
        q: SearchText = None,
        sort: Annotated[str, Query(description="name, created_at or tax_id; - for descending")] = "name",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> PageOut[CompanyOut]:
        page = await commands.search_companies(
            principal, CompanyQuery(text=q, sort=_sort(sort, COMPANY_SORTS), limit=limit, cursor=cursor)
        )
        return PageOut[CompanyOut](items=[CompanyOut.of(c) for c in page.items], next_cursor=page.next_cursor)

    @api.post("/companies", tags=["companies"], status_code=status.HTTP_201_CREATED, summary="Create a company")
    async def create_company(body: CompanyIn, principal: CurrentPrincipal) -> CompanyOut:
        company = await commands.create_company(
            principal,
            CompanyData(
                name=body.name,
                tax_id=body.tax_id,
                address=Address(**body.address.model_dump()),
                contact_person=body.contact_person,
                email=str(body.email),
                phone=body.phone,
            ),
        )
        return CompanyOut.of(company)

    @api.get("/companies/{company_id}", tags=["companies"], summary="One company")
    async def get_company(company_id: str, principal: CurrentPrincipal) -> CompanyOut:
        return CompanyOut.of(await commands.company(principal, company_id))

    @api.patch(
        "/companies/{company_id}",
        tags=["companies"],
        summary="Change a company's data (JSON Merge Patch)",
        openapi_extra=merge_patch.openapi_extra("CompanyPatch"),
    )
    async def update_company(company_id: str, body: CompanyPatch, principal: CurrentPrincipal) -> CompanyOut:
        sent: dict[str, Any] = body.model_dump(mode="json", exclude_unset=True)
        current = await commands.company(principal, company_id)
        try:
            merged = CompanyIn.model_validate(merge_patch.merge_patch(_company_fields(current), sent))
        except ValidationError as exc:
            raise invalid_body(exc) from exc
        # Only the fields sent: a concurrent change of another field is not overwritten.
        changes: dict[str, Any] = {name: getattr(merged, name) for name in sent}
        if "address" in changes:
            changes["address"] = Address(**merged.address.model_dump())
        if "email" in changes:
            changes["email"] = str(changes["email"])
        return CompanyOut.of(await commands.update_company(principal, company_id, changes))

    # ------------------------------------------------------------------ provisioning

    @api.post(
        "/provisionings",
        tags=["provisioning"],
        status_code=status.HTTP_201_CREATED,
        summary="Start a new instance: a draft with its type and data",
    )
    async def create_draft(body: DraftIn, principal: CurrentPrincipal) -> InstanceOut:
        instance = await commands.create_draft(
            principal,
            company_id=body.company_id,
            instance_type=body.type,
            name=body.name,
            configuration=body.configuration,
            term_months=body.term_months,
        )
        return InstanceOut.of(instance, _today())

    @api.get("/provisionings", tags=["provisioning"], summary="Provisionings not generated yet (or cancelled)")
    async def list_provisionings(
        principal: CurrentPrincipal,
        stage: Annotated[list[Stage] | None, Query()] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> PageOut[InstanceOut]:
        stages = tuple(stage or (Stage.DRAFT, Stage.PROVISIONED))
        page = await commands.search_instances(
            principal, InstanceQuery(stages=stages, limit=limit, cursor=cursor, today=_today())
        )
        return PageOut[InstanceOut](
            items=[InstanceOut.of(i, _today()) for i in page.items], next_cursor=page.next_cursor
        )

    @api.get("/provisionings/{instance_id}", tags=["provisioning"], summary="One provisioning")
    async def get_provisioning(instance_id: str, principal: CurrentPrincipal) -> InstanceOut:
        return InstanceOut.of(await commands.instance(principal, instance_id), _today())

    @api.patch(
        "/provisionings/{instance_id}",
        tags=["provisioning"],
        summary="Change a draft (JSON Merge Patch)",
        openapi_extra=merge_patch.openapi_extra("DraftPatch"),
    )
    async def update_draft(instance_id: str, body: DraftPatch, principal: CurrentPrincipal) -> InstanceOut:
        sent = body.model_dump(exclude_unset=True)
        instance = await commands.update_draft(
            principal,
            instance_id,
            name=sent.get("name"),
            configuration=sent.get("configuration"),
            term_months=sent.get("term_months"),
        )
        return InstanceOut.of(instance, _today())

    @api.post(
        "/provisionings/{instance_id}/provision",
        tags=["provisioning"],
        summary="Generate the contract to read; still cancellable",
        responses={409: {"description": "Not a draft; the answer names the current state"}},
    )
    async def provision(instance_id: str, principal: CurrentPrincipal) -> InstanceOut:
        return InstanceOut.of(await commands.provision(principal, instance_id), _today())

    @api.post("/provisionings/{instance_id}/cancel", tags=["provisioning"], summary="Cancel before generating")
    async def cancel_provisioning(instance_id: str, principal: CurrentPrincipal) -> InstanceOut:
        return InstanceOut.of(await commands.cancel_provisioning(principal, instance_id), _today())

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
    ) -> InstanceOut:
        async with idempotency.request(principal, idempotency_key, fingerprint("POST", request.url.path)):
            instance = await commands.generate(principal, instance_id, idempotency_key)
        response.headers["Location"] = f"/v1/instances/{instance.id}"
        return InstanceOut.of(instance, _today())

    async def _contract(principal: CurrentPrincipal, instance_id: str) -> Any:
        instance = await commands.instance(principal, instance_id)
        if instance.contract is None:
            raise Problem(404, "no-contract", f"Provisioning {instance_id} has no contract yet: provision it first.")
        return instance.contract

    @api.get("/provisionings/{instance_id}/contract", tags=["provisioning"], summary="The contract, as data")
    async def contract(instance_id: str, principal: CurrentPrincipal, language: ReaderLanguage) -> ContractOut:
        return ContractOut.of(await _contract(principal, instance_id), language)

    @api.get(
        "/provisionings/{instance_id}/contract.html",
        tags=["provisioning"],
        response_class=HTMLResponse,
        summary="The contract, to read",
    )
    async def contract_html(instance_id: str, principal: CurrentPrincipal, language: DocumentLanguage) -> HTMLResponse:
        return HTMLResponse(documents.html(await _contract(principal, instance_id), language))

    @api.get(
        "/provisionings/{instance_id}/contract.pdf",
        tags=["provisioning"],
        response_class=Response,
        responses={200: {"content": {"application/pdf": {}}}},
        summary="The contract, as PDF",
    )
    async def contract_pdf(instance_id: str, principal: CurrentPrincipal, language: DocumentLanguage) -> Response:
        contract = await _contract(principal, instance_id)
        return Response(
            documents.pdf(contract, language),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{contract.number}.pdf"'},
        )

    # ------------------------------------------------------------------ instances

    @api.get("/instances", tags=["instances"], summary="The partner's instances, filtered, sorted, paginated")
    async def list_instances(
        principal: CurrentPrincipal,
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
            today=_today(),
            sort=_sort(sort, INSTANCE_SORTS),
            limit=limit,
            cursor=cursor,
        )
        page = await commands.search_instances(principal, query)
        return PageOut[InstanceOut](
            items=[InstanceOut.of(i, _today()) for i in page.items], next_cursor=page.next_cursor
        )

    @api.get("/instances/{instance_id}", tags=["instances"], summary="One instance")
    async def get_instance(instance_id: str, principal: CurrentPrincipal) -> InstanceOut:
        instance = await commands.instance(principal, instance_id)
        if instance.stage != Stage.GENERATED:
            raise Problem(404, "not-found", f"No instance {instance_id}.")
        return InstanceOut.of(instance, _today())

    @api.patch(
        "/instances/{instance_id}",
        tags=["instances"],
        summary="Edit an instance's data and configuration (JSON Merge Patch)",
        openapi_extra=merge_patch.openapi_extra("InstancePatch"),
    )
    async def edit_instance(instance_id: str, body: InstancePatch, principal: CurrentPrincipal) -> InstanceOut:
        sent = body.model_dump(exclude_unset=True)
        instance = await commands.edit_instance(
            principal, instance_id, name=sent.get("name"), configuration=sent.get("configuration")
        )
        return InstanceOut.of(instance, _today())

    @api.post("/instances/{instance_id}/extend", tags=["instances"], summary="Extend the expiry date, at once (R-03)")
    async def extend(instance_id: str, body: ExtendIn, principal: CurrentPrincipal) -> ExtendOut:
        instance = await commands.extend(principal, instance_id, body.new_expiry_date)
        return ExtendOut(instance_id=instance.id, expiry_date=instance.expiry_date or body.new_expiry_date)

    @api.post(
        "/instances/{instance_id}/cancellation-request",
        tags=["instances"],
        summary="Request the instance's cancellation, with a reason (R-25)",
    )
    async def request_cancellation(instance_id: str, body: ReasonIn, principal: CurrentPrincipal) -> InstanceOut:
        return InstanceOut.of(await commands.request_cancellation(principal, instance_id, body.reason), _today())

    @api.post(
        "/instances/{instance_id}/clear-session",
        tags=["instances"],
        summary="Make one terminal, or all, log in again and fetch the configuration (R-23)",
    )
    async def clear_session(instance_id: str, body: ClearSessionIn, principal: CurrentPrincipal) -> InstanceOut:
        return InstanceOut.of(await commands.clear_session(principal, instance_id, body.serial), _today())

    @api.post(
        "/instances/{instance_id}/ingest-key",
        tags=["instances"],
        summary="Issue a new ingest key for the instance's terminals (the previous one stops working)",
    )
    async def rotate_ingest_key(instance_id: str, principal: CurrentPrincipal) -> IngestKeyOut:
        instance, key = await commands.rotate_ingest_key(principal, instance_id)
        return IngestKeyOut(instance_id=instance.id, ingest_key=key)

    # ------------------------------------------------------------------ licenses

    @api.get("/instances/{instance_id}/licenses", tags=["licenses"], summary="An instance's licenses, searchable")
    async def list_licenses(
        instance_id: str,
        principal: CurrentPrincipal,
        q: SearchText = None,
        status_: Annotated[LicenseStatus | None, Query(alias="status")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> PageOut[LicenseOut]:
        instance = await commands.instance(principal, instance_id)
        needle = (q or "").casefold()
        matching = [
            lic
            for lic in sorted(instance.licenses, key=lambda x: (x.user_name.casefold(), x.id))
            if (status_ is None or lic.status == status_)
            and (
                not needle
                or any(needle in (v or "").casefold() for v in (lic.user_name, lic.email, lic.pin, lic.serial))
            )
        ]
        start = 0
        if cursor is not None:
            ids = [lic.id for lic in matching]
            if cursor not in ids:
                raise InvalidCursor("the cursor is not one this API returned")
            start = ids.index(cursor) + 1
        window = matching[start : start + limit]
        next_cursor = window[-1].id if start + limit < len(matching) and window else None
        return PageOut[LicenseOut](items=[LicenseOut.of(instance, lic) for lic in window], next_cursor=next_cursor)

    @api.post(
        "/instances/{instance_id}/licenses",
        tags=["licenses"],
        status_code=status.HTTP_201_CREATED,
        summary="Add one or many licenses (all or none)",
    )
    async def add_licenses(instance_id: str, body: LicensesIn, principal: CurrentPrincipal) -> LicensesAdded:
        new = [NewLicense(x.user_name, str(x.email), x.pin, x.serial) for x in body.licenses]
        return LicensesAdded(license_ids=await commands.add_licenses(principal, instance_id, new))

    @api.get("/instances/{instance_id}/licenses/{license_id}", tags=["licenses"], summary="One license")
    async def get_license(instance_id: str, license_id: str, principal: CurrentPrincipal) -> LicenseOut:
        instance = await commands.instance(principal, instance_id)
        return LicenseOut.of(instance, instance.license(license_id))

    @api.post(
        "/instances/{instance_id}/licenses/{license_id}/revoke",
        tags=["licenses"],
        summary="Cancel a license, with a reason (R-26)",
    )
    async def revoke_license(
        instance_id: str, license_id: str, body: ReasonIn, principal: CurrentPrincipal
    ) -> LicenseOut:
        instance = await commands.revoke_license(principal, instance_id, license_id, body.reason)
        return LicenseOut.of(instance, instance.license(license_id))

    @api.post(
        "/instances/{instance_id}/licenses/{license_id}/release",
        tags=["licenses"],
        summary="Free the license from its terminal (R-43)",
    )
    async def release_license(
        instance_id: str, license_id: str, body: OptionalReasonIn, principal: CurrentPrincipal
    ) -> LicenseOut:
        instance = await commands.release_license(principal, instance_id, license_id, body.reason)
        return LicenseOut.of(instance, instance.license(license_id))

    @api.post(
        "/instances/{instance_id}/licenses/{license_id}/impersonate",
        tags=["licenses"],
        summary="Open the web panel as the license's user: a short-lived token, audited (R-22)",
    )
    async def impersonate(
        instance_id: str, license_id: str, body: ReasonIn, principal: CurrentPrincipal
    ) -> ImpersonationOut:
        grant = await commands.impersonate(principal, instance_id, license_id, body.reason)
        return ImpersonationOut(token=grant.token, panel_url=grant.panel_url, expires_at=grant.expires_at)

    # ------------------------------------------------------------------ terminals

    @api.get(
        "/device/configuration",
        tags=["device"],
        summary="For terminals: the configuration and the session epoch they must have seen",
        responses={401: {"description": "Unknown or revoked ingest key"}},
    )
    async def device_configuration(
        serial: Annotated[Serial, Query()],
        ingest_key: Annotated[str | None, Header(alias="X-Ingest-Key", max_length=200)] = None,
    ) -> DeviceConfigurationOut:
        if not ingest_key:  # a missing credential is a 401, like a wrong one
            raise InvalidIngestKey("An X-Ingest-Key header is required.")
        view = await commands.device_view(ingest_key, serial)
        instance = view.instance
        state = instance.effective_status(_today())
        return DeviceConfigurationOut(
            instance_id=instance.id,
            type=instance.type,
            status=state.value if state else None,
            serial=view.serial,
            session_epoch=view.session_epoch,
            configuration=instance.configuration,
        )

    return api
