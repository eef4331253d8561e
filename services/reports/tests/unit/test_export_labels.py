"""Every column of every export has its header in Spanish and English."""

from __future__ import annotations

import pytest

from reports.entrypoints.labels import COLUMN_LABELS, column_label
from reports.entrypoints.schemas import ACTIVE_SERVICE_COLUMNS, INSTANCE_COLUMNS, LICENSE_COLUMNS, OPERATION_COLUMNS
from servicekit.i18n import LANGUAGES

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("columns", [INSTANCE_COLUMNS, LICENSE_COLUMNS, ACTIVE_SERVICE_COLUMNS, OPERATION_COLUMNS])
def test_every_export_column_has_a_label_in_each_language(columns: list) -> None:  # type: ignore[type-arg]
    for column in columns:
        assert column.header in COLUMN_LABELS, f"no label for the column {column.header}"
        assert set(COLUMN_LABELS[column.header]) == set(LANGUAGES)
    spanish = [column_label(c.header, "es") for c in columns]
    assert len(set(spanish)) == len(spanish), "two columns with the same header"


def test_without_a_language_the_header_is_the_field_name() -> None:
    assert column_label("company_name", None) == "company_name"
    assert column_label("company_name", "es") == "Empresa"
    assert column_label("company_name", "en") == "Company"
