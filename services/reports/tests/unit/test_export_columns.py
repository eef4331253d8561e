"""The exports' columns are the response models' fields: the same header rows as before, in each
language, and a field added to a model is exported without a second list."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import pytest

from reports.adapters.exports import NOT_EXPORTED, Label, columns_of
from reports.entrypoints.labels import EXPORTS
from reports.entrypoints.schemas import InstanceOut
from servicekit.api import ResponseModel

pytestmark = pytest.mark.unit

HEADERS = {
    ("instances", None): "id,partner_id,company_id,company_name,type,profile,name,contract_number,status,"
    "activation_date,expiry_date,cancellation_requested_at,cancellation_reason",
    ("instances", "es"): "Id,Partner,Id de empresa,Empresa,Tipo,Perfil,Nombre,Nº de contrato,Estado,"
    "Fecha de activación,Fecha de caducidad,Baja solicitada el,Motivo de la baja",
    ("instances", "en"): "Id,Partner,Company id,Company,Type,Profile,Name,Contract number,Status,Activation date,"
    "Expiry date,Cancellation requested at,Cancellation reason",
    ("licenses", None): "id,instance_id,instance_type,partner_id,company_id,company_name,user_name,pin,serial,"
    "status,added_at,released_at,revoked_at,revoke_reason",
    ("licenses", "es"): "Id,Id de instancia,Tipo de instancia,Partner,Id de empresa,Empresa,Usuario,PIN,"
    "Nº de serie del terminal,Estado,Alta,Liberada el,Revocada el,Motivo de la revocación",
    ("licenses", "en"): "Id,Instance id,Instance type,Partner,Company id,Company,User,PIN,Terminal serial,Status,"
    "Added at,Released at,Revoked at,Revocation reason",
    ("active-services", None): "id,partner_id,company_id,company_name,type,profile,name,contract_number,status,"
    "activation_date,expiry_date,cancellation_requested_at,cancellation_reason,active_from,active_to,licenses_held",
    ("active-services", "es"): "Id,Partner,Id de empresa,Empresa,Tipo,Perfil,Nombre,Nº de contrato,Estado,"
    "Fecha de activación,Fecha de caducidad,Baja solicitada el,Motivo de la baja,Activa desde,Activa hasta,Licencias",
    ("active-services", "en"): "Id,Partner,Company id,Company,Type,Profile,Name,Contract number,Status,"
    "Activation date,Expiry date,Cancellation requested at,Cancellation reason,Active from,Active to,Licenses held",
    ("operations", None): "day,instance_id,instance_type,partner_id,company_id,company_name,total,by_action",
    ("operations", "es"): "Día,Id de instancia,Tipo de instancia,Partner,Id de empresa,Empresa,Total,Por acción",
    ("operations", "en"): "Day,Instance id,Instance type,Partner,Company id,Company,Total,By action",
}


@pytest.mark.parametrize(("export", "language"), sorted(HEADERS, key=str))
def test_each_export_keeps_its_header_row(export: str, language: str | None) -> None:
    assert ",".join(c.header_in(language) for c in EXPORTS[export]) == HEADERS[export, language]  # type: ignore[arg-type]


def test_a_field_added_to_a_model_is_exported_and_a_held_model_brings_its_columns() -> None:
    class Visit(ResponseModel):
        instance: InstanceOut
        day: Annotated[date, Label(es="Día", en="Day")]
        note: Annotated[str, NOT_EXPORTED]
        added_later: Annotated[int, Label(es="Nuevo", en="New")]

    columns = columns_of(Visit)
    assert [c.header for c in columns][-2:] == ["day", "added_later"]
    assert [c.header_in("es") for c in columns][-2:] == ["Día", "Nuevo"]
    assert "note" not in [c.header for c in columns]
    instance = InstanceOut.model_validate(
        {
            "id": "ins-1", "partner_id": "ptn", "company_id": "cmp", "company_name": None, "type": "WDS",
            "profile": None, "name": None, "contract_number": None, "status": "active", "activation_date": None,
            "expiry_date": None, "provisioned_at": None, "cancellation_requested_at": None,
            "cancellation_reason": None,
        }
    )  # fmt: skip
    visit = Visit(instance=instance, day=date(2026, 3, 1), note="x", added_later=7)
    values = {c.header: c.value(visit) for c in columns}
    assert (values["id"], values["type"], values["day"], values["added_later"]) == ("ins-1", "WDS", date(2026, 3, 1), 7)
