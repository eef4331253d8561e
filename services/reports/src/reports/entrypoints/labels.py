"""Column headers of the exports in the reader's language (a person opens the file in a
spreadsheet); a request naming no language gets the field names, as the JSON API has them.

The headers are the response models' field metadata (`schemas.py`, `Label`); this is their index
by column name, over every export.
"""

from __future__ import annotations

from collections.abc import Mapping

from reports.entrypoints.schemas import (
    ACTIVE_SERVICE_COLUMNS,
    INSTANCE_COLUMNS,
    LICENSE_COLUMNS,
    OPERATION_COLUMNS,
    SILENT_SEAT_COLUMNS,
)
from servicekit.i18n import Language

EXPORTS = {
    "instances": INSTANCE_COLUMNS,
    "licenses": LICENSE_COLUMNS,
    "active-services": ACTIVE_SERVICE_COLUMNS,
    "operations": OPERATION_COLUMNS,
    "silent-seats": SILENT_SEAT_COLUMNS,
}

COLUMN_LABELS: Mapping[str, Mapping[Language, str]] = {
    column.header: column.label.by_language()
    for columns in EXPORTS.values()
    for column in columns
    if column.label is not None
}


def column_label(field: str, language: Language | None) -> str:
    """The header of a column: its label in `language`, or the field name without one."""
    if language is None:
        return field
    labels = COLUMN_LABELS.get(field)
    return labels[language] if labels else field
