"""The HTTP API's request and response bodies (the wire shapes, separate from the domain)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from contracts.events.common import InstanceType
from contracts.serials import SERIAL_PATTERN, canonical_serial
from instances.domain.company import Address
from instances.domain.configuration import (
    McrmConfiguration,
    S360Configuration,
    TypedConfiguration,
    WdsConfiguration,
    WorkCalendar,
    WtaConfiguration,
)
from instances.domain.listing import InstanceListing, LicenseCounts
from instances.domain.model import Contract, Instance, LicenseStatus
from instances.service_layer.commands import CompanyData
from instances.service_layer.queries import InstanceLicense, InstanceOverview
from servicekit.api import PageOut, ResponseModel
from servicekit.i18n import DEFAULT_LANGUAGE
from servicekit.problems import invalid_body

# Names are one line of printable text; reasons may have line breaks and tabs. No other control
# characters (NUL, escape sequences…): they would travel into contracts, exports and every screen.
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")
]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=2000, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$"),
]
Pin = Annotated[str, StringConstraints(pattern=r"^[0-9]{4,8}$")]
# One canonical form (upper case): a terminal is the same in any letter case, here and in the activity service.
Serial = Annotated[
    str, StringConstraints(min_length=3, max_length=64, pattern=SERIAL_PATTERN), AfterValidator(canonical_serial)
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()-]{6,20}$")]
TaxId = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z0-9-]{5,20}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


MERGE_PATCH = (
    "JSON Merge Patch (RFC 7396), as `application/merge-patch+json` or `application/json`: a field not "
    "sent keeps its value, objects merge field by field, `null` clears an optional field (a field with a "
    "default takes the default again; `null` on a required field is a 422). The merged result is "
    "validated as a whole: if it is invalid, the answer is a 422 naming the field and nothing changes."
)


def _required(field: str) -> PydanticCustomError:
    return PydanticCustomError("not_null", "must not be null: {field} is required", {"field": field})


class _Patch(_In):
    """A merge patch body: `null` is accepted only on the fields that may be empty."""

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        if value is None and type(None) not in get_args(cls.model_fields[name].annotation):
            raise _required(name)
        return value


# The default of a merge patch's required field: it means "not sent" (the stored value stays); typed
# Any because the field itself never accepts None (an explicit null is a 422 naming it).
NOT_SENT: Any = None


def _patch_model(model: type[BaseModel], nested: dict[Any, type[BaseModel]] | None = None) -> type[BaseModel]:
    """The merge-patch form of a configuration model, for the OpenAPI document: the same fields and
    constraints, none required, each nullable (`null`: back to its default)."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        patched: FieldInfo = copy.copy(info)
        patched.default, patched.default_factory = None, None
        if name == "type":
            patched.description = "The instance's type, if sent"
        annotation: Any = (nested or {}).get(info.annotation, info.annotation)
        fields[name] = (annotation | None, patched)
    return create_model(f"{model.__name__}Patch", __config__=ConfigDict(extra="forbid"), **fields)


_CALENDAR_PATCH = _patch_model(WorkCalendar)
WdsConfigurationPatch = _patch_model(WdsConfiguration, {WorkCalendar: _CALENDAR_PATCH})
McrmConfigurationPatch = _patch_model(McrmConfiguration)
S360ConfigurationPatch = _patch_model(S360Configuration)
WtaConfigurationPatch = _patch_model(WtaConfiguration)
_PATCH_SHAPES: Any = WdsConfigurationPatch | McrmConfigurationPatch | S360ConfigurationPatch | WtaConfigurationPatch


def _json_object(value: Any) -> dict[str, Any]:
    # Validated per type once merged with the stored configuration (the body alone cannot say which type).
    if value is None:
        raise _required("configuration")
    if not isinstance(value, dict):
        raise PydanticCustomError("object_type", "must be an object")
    return value


def _json_object_or_null(value: Any) -> dict[str, Any] | None:
    return None if value is None else _json_object(value)


# Documented as the union of the four types' shapes; validated by the instance type's model.
ConfigurationIn = Annotated[
    dict[str, Any] | None, PlainValidator(_json_object_or_null, json_schema_input_type=TypedConfiguration | None)
]
ConfigurationPatch = Annotated[dict[str, Any], PlainValidator(_json_object, json_schema_input_type=_PATCH_SHAPES)]


class AddressIn(_In):
    street: Text
    city: Text
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9 -]{3,10}$")]
    province: Text
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "ES"


class CompanyIn(_In):
    name: Text
    tax_id: TaxId
    address: AddressIn
    contact_person: Text
    email: EmailStr
    phone: Phone

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Transportes López S.L.",
                    "tax_id": "B12345678",
                    "address": {
                        "street": "Calle Mayor 1",
                        "city": "Madrid",
                        "postal_code": "28013",
                        "province": "Madrid",
                        "country": "ES",
                    },
                    "contact_person": "Lucía López",
                    "email": "lucia@transporteslopez.example",
                    "phone": "+34 910 000 000",
                }
            ]
        },
    )

    def data(self) -> CompanyData:
        return CompanyData(
            name=self.name,
            tax_id=self.tax_id,
            address=Address(**self.address.model_dump()),
            contact_person=self.contact_person,
            email=str(self.email),
            phone=self.phone,
        )


def company_data(document: dict[str, Any]) -> CompanyData:
    """A whole company (a merge patch applied to the stored one) validated as a `CompanyIn`."""
    try:
        return CompanyIn.model_validate(document).data()
    except ValidationError as exc:
        raise invalid_body(exc) from exc


class AddressPatch(_Patch):
    street: Text = Field(default=NOT_SENT)
    city: Text = Field(default=NOT_SENT)
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9 -]{3,10}$")] = Field(
        default=NOT_SENT
    )
    province: Text = Field(default=NOT_SENT)
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = Field(
        default=None, description="`null`: back to ES"
    )


class CompanyPatch(_Patch):
    # Every field is required in a company: sent, it must not be null.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"description": MERGE_PATCH})

    name: Text = Field(default=NOT_SENT)
    tax_id: TaxId = Field(default=NOT_SENT)
    address: AddressPatch = Field(default=NOT_SENT)
    contact_person: Text = Field(default=NOT_SENT)
    email: EmailStr = Field(default=NOT_SENT)
    phone: Phone = Field(default=NOT_SENT)


class CompanyOut(ResponseModel):
    id: str
    name: str
    tax_id: str
    address: dict[str, str]
    contact_person: str
    email: str
    phone: str
    created_at: datetime
    updated_at: datetime

    @field_validator("address", mode="before")
    @classmethod
    def _address(cls, address: Any) -> Any:
        return vars(address) if isinstance(address, Address) else address


class DraftIn(_In):
    company_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    type: InstanceType
    name: Text
    term_months: int = Field(default=12, ge=1, le=120)
    configuration: ConfigurationIn = Field(
        default=None,
        description="The configuration of `type` (whose `type` may be left out); missing fields take its defaults.",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "company_id": "cmp-0123456789abcdef",
                    "type": "WDS",
                    "name": "López — warehouse crew",
                    "term_months": 12,
                    "configuration": {"profile": "professional", "terminal_quota": 25, "gps_tracking": True},
                }
            ]
        },
    )


class DraftPatch(_Patch):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"description": MERGE_PATCH, "examples": [{"configuration": {"terminal_quota": 8}}]},
    )

    name: Text = Field(default=NOT_SENT)
    term_months: int = Field(default=NOT_SENT, ge=1, le=120)
    configuration: ConfigurationPatch = Field(default=NOT_SENT, description="Merged into the draft's configuration")


class InstancePatch(_Patch):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"description": MERGE_PATCH, "examples": [{"configuration": {"terminal_quota": 8}}]},
    )

    name: Text = Field(default=NOT_SENT)
    configuration: ConfigurationPatch = Field(default=NOT_SENT, description="Merged into the instance's configuration")


class ExtendIn(_In):
    new_expiry_date: date


class ReasonIn(_In):
    reason: Reason


class OptionalReasonIn(_In):
    reason: Reason | None = None


class ClearSessionIn(_In):
    serial: Serial | None = Field(default=None, description="One terminal; all of the instance's when absent.")


class LicenseIn(_In):
    user_name: Text
    email: EmailStr
    pin: Pin
    serial: Serial | None = None


class LicensesIn(_In):
    licenses: list[LicenseIn] = Field(min_length=1, max_length=500)


# Built from an `InstanceLicense`: the license's fields and its instance's id.
class LicenseOut(ResponseModel):
    id: str
    instance_id: str
    user_name: str
    email: str
    pin: str
    serial: str | None
    status: LicenseStatus
    revoked_reason: str | None
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _of_instance(cls, value: Any) -> Any:
        if isinstance(value, InstanceLicense):
            return {**vars(value.license), "instance_id": value.instance_id}
        return value


class LicenseSummary(ResponseModel):
    quota: int
    in_use: int
    active: int
    released: int
    revoked: int

    @classmethod
    def of(cls, counts: LicenseCounts) -> LicenseSummary:
        return cls(**vars(counts))


class CancellationOut(ResponseModel):
    reason: str
    requested_by: str
    requested_at: datetime

    @field_validator("requested_by", mode="before")
    @classmethod
    def _user_id(cls, actor: Any) -> Any:
        return getattr(actor, "user_id", actor)


# Built with `InstanceOut.model_validate(instance)` (an `Instance` or the `InstanceListing` a list reads);
# the `status` is the one in effect today (UTC, or `context={"today": day}`): an active instance past
# its expiry date reads expired.
class InstanceOut(ResponseModel):
    id: str
    company_id: str
    type: InstanceType
    name: str
    stage: str
    status: str | None = Field(
        description="active, cancellation_requested, cancelled or expired; None before generation"
    )
    profile: str | None
    configuration: TypedConfiguration
    term_months: int
    contract_number: str | None
    activation_date: date | None
    expiry_date: date | None
    session_epoch: int
    cancellation: CancellationOut | None
    licenses: LicenseSummary
    has_ingest_key: bool
    created_at: datetime
    updated_at: datetime
    version: int

    @model_validator(mode="before")
    @classmethod
    def _derived(cls, value: Any, info: ValidationInfo) -> Any:
        listing = InstanceListing.of(value) if isinstance(value, Instance) else value
        if not isinstance(listing, InstanceListing):
            return value
        today = (info.context or {}).get("today") or datetime.now(UTC).date()
        status = listing.effective_status(today)
        return {
            **vars(listing),
            "status": status.value if status else None,
            "profile": listing.profile,
            "licenses": LicenseSummary.of(listing.licenses),
        }


# Built from an `InstanceOverview`: the instance and a first page of its licenses, read together.
class InstanceOverviewOut(ResponseModel):
    instance: InstanceOut
    licenses: PageOut[LicenseOut]

    @model_validator(mode="before")
    @classmethod
    def _of_overview(cls, value: Any) -> Any:
        if isinstance(value, InstanceOverview):
            return {"instance": value.instance, "licenses": value.licenses}
        return value


# Built with `ContractOut.model_validate(contract, context={"language": language})`: the terms in the
# reader's language, as issued. (Comments, not docstrings: a docstring would enter the OpenAPI document.)
class ContractOut(ResponseModel):
    number: str
    issued_at: datetime
    vendor: dict[str, str]
    customer: dict[str, str]
    partner_id: str
    product_type: InstanceType
    product_name: str
    profile: str | None
    term_months: int
    currency: str
    unit_price: str
    seats: int
    monthly_total: str
    term_total: str
    terms: str

    @model_validator(mode="before")
    @classmethod
    def _priced(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, Contract):
            return value
        pricing = value.pricing
        return {
            **vars(value),
            "vendor": vars(value.vendor),
            "customer": vars(value.customer),
            "currency": pricing.currency,
            "unit_price": str(pricing.unit_price),
            "seats": pricing.seats,
            "monthly_total": str(pricing.monthly_total),
            "term_total": str(pricing.term_total),
            "terms": value.terms_in((info.context or {}).get("language", DEFAULT_LANGUAGE)),
        }


class ExtendOut(ResponseModel):
    instance_id: str
    expiry_date: date


class LicensesAdded(ResponseModel):
    license_ids: list[str]


class IngestKeyOut(ResponseModel):
    instance_id: str
    ingest_key: str = Field(description="Shown once: store it in the terminals' configuration.")


class ImpersonationOut(ResponseModel):
    token: str
    panel_url: str
    expires_at: datetime


class DeviceConfigurationOut(ResponseModel):
    instance_id: str
    type: InstanceType
    status: str | None
    serial: str
    session_epoch: int = Field(description="Higher than the epoch of the terminal's login: log in again.")
    configuration: TypedConfiguration
