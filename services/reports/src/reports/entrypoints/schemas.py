"""Response models of the reports API, read from the use cases' answers (`model_validate`).

Each exported field carries its column header in Spanish and English (`Label`); the exports'
columns are these models' fields (`columns_of`), so a field added here is exported too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from reports.adapters.exports import NOT_EXPORTED, Label, columns_of
from reports.domain.model import InstanceStatus, LicenseStatus
from servicekit.api import PageOut, ResponseModel

# Headers of the columns several exports have.
ID = Label(es="Id", en="Id")
PARTNER = Label(es="Partner", en="Partner")
COMPANY_ID = Label(es="Id de empresa", en="Company id")
COMPANY = Label(es="Empresa", en="Company")
INSTANCE_ID = Label(es="Id de instancia", en="Instance id")
INSTANCE_TYPE = Label(es="Tipo de instancia", en="Instance type")
STATUS = Label(es="Estado", en="Status")


class InstanceOut(ResponseModel):
    id: Annotated[str, ID]
    partner_id: Annotated[str, PARTNER]
    company_id: Annotated[str, COMPANY_ID]
    company_name: Annotated[str | None, COMPANY] = Field(description="None until the company's event arrives")
    type: Annotated[str, Label(es="Tipo", en="Type")]
    profile: Annotated[str | None, Label(es="Perfil", en="Profile")] = Field(
        description="WDS contracted profile (R-33)"
    )
    name: Annotated[str | None, Label(es="Nombre", en="Name")]
    contract_number: Annotated[str | None, Label(es="Nº de contrato", en="Contract number")]
    status: Annotated[InstanceStatus, STATUS]
    activation_date: Annotated[date | None, Label(es="Fecha de activación", en="Activation date")]
    expiry_date: Annotated[date | None, Label(es="Fecha de caducidad", en="Expiry date")]
    provisioned_at: Annotated[datetime | None, NOT_EXPORTED]
    cancellation_requested_at: Annotated[
        datetime | None, Label(es="Baja solicitada el", en="Cancellation requested at")
    ]
    cancellation_reason: Annotated[str | None, Label(es="Motivo de la baja", en="Cancellation reason")]


class InstanceDetailOut(InstanceOut):
    licenses_by_status: dict[str, int]


class LicenseOut(ResponseModel):
    id: Annotated[str, ID]
    instance_id: Annotated[str, INSTANCE_ID]
    instance_type: Annotated[str | None, INSTANCE_TYPE] = Field(description="None until the instance's event arrives")
    partner_id: Annotated[str, PARTNER]
    company_id: Annotated[str, COMPANY_ID]
    company_name: Annotated[str | None, COMPANY]
    user_name: Annotated[str | None, Label(es="Usuario", en="User")]
    pin: Annotated[str | None, Label(es="PIN", en="PIN")]
    serial: Annotated[str | None, Label(es="Nº de serie del terminal", en="Terminal serial")] = Field(
        description="The terminal the seat is bound to"
    )
    status: Annotated[LicenseStatus | None, STATUS]
    added_at: Annotated[datetime | None, Label(es="Alta", en="Added at")]
    released_at: Annotated[datetime | None, Label(es="Liberada el", en="Released at")]
    revoked_at: Annotated[datetime | None, Label(es="Revocada el", en="Revoked at")]
    revoke_reason: Annotated[str | None, Label(es="Motivo de la revocación", en="Revocation reason")]


class ActiveServiceOut(ResponseModel):
    instance: InstanceOut
    active_from: Annotated[date, Label(es="Activa desde", en="Active from")] = Field(
        description="First day of the period the instance was in service"
    )
    active_to: Annotated[date, Label(es="Activa hasta", en="Active to")] = Field(
        description="Last day of the period the instance was in service"
    )
    licenses_held: Annotated[int, Label(es="Licencias", en="Licenses held")] = Field(
        description="Licenses (active or released) held at any moment of the period"
    )


class OperationRowOut(ResponseModel):
    day: Annotated[date, Label(es="Día", en="Day")]
    instance_id: Annotated[str, INSTANCE_ID]
    instance_type: Annotated[str | None, INSTANCE_TYPE]
    partner_id: Annotated[str, PARTNER]
    company_id: Annotated[str | None, COMPANY_ID]
    company_name: Annotated[str | None, COMPANY]
    total: Annotated[int, Label(es="Total", en="Total")]
    by_action: Annotated[dict[str, int], Label(es="Por acción", en="By action")]


class InstanceCounts(BaseModel):
    total: int
    by_type: dict[str, int]
    wds_by_profile: dict[str, int]
    by_status: dict[str, int]


class LicenseCounts(BaseModel):
    total: int
    by_type: dict[str, int] = Field(description="By the instance's type")
    by_status: dict[str, int]


class SummaryOut(BaseModel):
    instances: InstanceCounts
    licenses: LicenseCounts


class MonthOut(ResponseModel):
    month: str
    activations: int
    cancellations: int
    activations_by_type: dict[str, int]
    cancellations_by_type: dict[str, int]


class MonthlyOut(BaseModel):
    months: list[MonthOut]


class DayOut(ResponseModel):
    day: date
    total: int
    by_type: dict[str, int]


class OperationsOut(BaseModel):
    from_: date = Field(alias="from")
    to: date
    total: int
    by_type: dict[str, int]
    days: list[DayOut]


class InstancePage(PageOut[InstanceOut]): ...


class LicensePage(PageOut[LicenseOut]): ...


class ActiveServicePage(PageOut[ActiveServiceOut]): ...


class OperationRowPage(PageOut[OperationRowOut]): ...


INSTANCE_COLUMNS = columns_of(InstanceOut)
LICENSE_COLUMNS = columns_of(LicenseOut)
ACTIVE_SERVICE_COLUMNS = columns_of(ActiveServiceOut)
OPERATION_COLUMNS = columns_of(OperationRowOut)


class SilentSeatOut(ResponseModel):
    """A licensed terminal that sent nothing for the days asked (a seat paid for and not used)."""

    partner_id: Annotated[str, PARTNER]
    instance_id: Annotated[str, INSTANCE_ID]
    instance_name: Annotated[str | None, Label(es="Instancia", en="Instance")]
    license_id: Annotated[str, Label(es="Id de licencia", en="License id")]
    user: Annotated[str | None, Label(es="Usuario", en="User")]
    serial: Annotated[str | None, Label(es="Terminal", en="Terminal")]
    last_seen_at: Annotated[datetime | None, Label(es="Visto por última vez", en="Last seen")] = Field(
        description="The terminal's last event; None: never seen (listed first)"
    )
    silent_days: Annotated[int | None, Label(es="Días sin actividad", en="Days silent")] = Field(
        description="Whole days since last seen; None: never seen"
    )


class SilentSeatPage(PageOut[SilentSeatOut]):
    items: list[SilentSeatOut] = Field(description="Never seen first, then the longest silent")
    days: int = Field(description="Silent for at least this many days")


SILENT_SEAT_COLUMNS = columns_of(SilentSeatOut)
