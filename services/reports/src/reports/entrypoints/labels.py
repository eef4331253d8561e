"""Column headers of the exports in the reader's language (a person opens the file in a
spreadsheet); a request naming no language gets the field names, as the JSON API has them."""

from __future__ import annotations

from collections.abc import Mapping

from servicekit.i18n import Language

COLUMN_LABELS: Mapping[str, Mapping[Language, str]] = {
    "id": {"es": "Id", "en": "Id"},
    "partner_id": {"es": "Partner", "en": "Partner"},
    "company_id": {"es": "Id de empresa", "en": "Company id"},
    "company_name": {"es": "Empresa", "en": "Company"},
    "type": {"es": "Tipo", "en": "Type"},
    "profile": {"es": "Perfil", "en": "Profile"},
    "name": {"es": "Nombre", "en": "Name"},
    "contract_number": {"es": "Nº de contrato", "en": "Contract number"},
    "status": {"es": "Estado", "en": "Status"},
    "activation_date": {"es": "Fecha de activación", "en": "Activation date"},
    "expiry_date": {"es": "Fecha de caducidad", "en": "Expiry date"},
    "cancellation_requested_at": {"es": "Baja solicitada el", "en": "Cancellation requested at"},
    "cancellation_reason": {"es": "Motivo de la baja", "en": "Cancellation reason"},
    "instance_id": {"es": "Id de instancia", "en": "Instance id"},
    "instance_type": {"es": "Tipo de instancia", "en": "Instance type"},
    "user_name": {"es": "Usuario", "en": "User"},
    "pin": {"es": "PIN", "en": "PIN"},
    "serial": {"es": "Nº de serie del terminal", "en": "Terminal serial"},
    "added_at": {"es": "Alta", "en": "Added at"},
    "released_at": {"es": "Liberada el", "en": "Released at"},
    "revoked_at": {"es": "Revocada el", "en": "Revoked at"},
    "revoke_reason": {"es": "Motivo de la revocación", "en": "Revocation reason"},
    "active_from": {"es": "Activa desde", "en": "Active from"},
    "active_to": {"es": "Activa hasta", "en": "Active to"},
    "licenses_held": {"es": "Licencias", "en": "Licenses held"},
    "day": {"es": "Día", "en": "Day"},
    "total": {"es": "Total", "en": "Total"},
    "by_action": {"es": "Por acción", "en": "By action"},
}


def column_label(field: str, language: Language | None) -> str:
    """The header of a column: its label in `language`, or the field name without one."""
    if language is None:
        return field
    labels = COLUMN_LABELS.get(field)
    return labels[language] if labels else field
