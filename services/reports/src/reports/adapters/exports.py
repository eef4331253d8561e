"""Exports of a list as CSV or XLSX, row by row, never the whole list in memory.

CSV goes to the client as it is produced (one chunk every few dozen rows). XLSX is a zip whose
directory comes last, so it cannot be sent before it is complete: xlsxwriter in
`constant_memory` mode writes each row to a temporary file as it comes (memory stays flat
whatever the row count), the workbook is closed into a temporary file, and that file is streamed
to the client and deleted.

The columns are a response model's fields (`columns_of`), in order, each headed by the `Label`
in its metadata, so a field added to the model is exported too.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import operator
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, Generic, TypeVar

import xlsxwriter  # type: ignore[import-untyped]
from pydantic import BaseModel

from servicekit.i18n import Language

T = TypeVar("T")

CSV_CHUNK_CHARS = 64 * 1024
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Label:
    """A column's header in each language of the exports, as a response model's field metadata:
    `company_name: Annotated[str | None, Label(es="Empresa", en="Company")]`."""

    es: str
    en: str

    def by_language(self) -> Mapping[Language, str]:
        return {"es": self.es, "en": self.en}


class NotExported:
    """Field metadata leaving a response model's field out of its exports."""


NOT_EXPORTED = NotExported()


@dataclass(frozen=True)
class Column(Generic[T]):
    header: str
    """The field's name: the header of a file asked for in no language."""
    value: Callable[[T], Any]
    label: Label | None = None

    def header_in(self, language: Language | None) -> str:
        """The header in `language`; the field's name without one (or without a label)."""
        if language is None or self.label is None:
            return self.header
        return self.label.by_language()[language]


def columns_of(model: type[BaseModel]) -> list[Column[Any]]:
    """The export columns of a response model: its fields in order, each with the `Label` of its
    metadata; a field holding another model brings that model's columns in its place."""
    columns: list[Column[Any]] = []
    for name, info in model.model_fields.items():
        if any(isinstance(m, NotExported) for m in info.metadata):
            continue
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            columns += [_within(name, inner) for inner in columns_of(kind)]
            continue
        label = next((m for m in info.metadata if isinstance(m, Label)), None)
        columns.append(Column(name, operator.attrgetter(name), label))
    return columns


def _within(name: str, inner: Column[Any]) -> Column[Any]:
    """`inner`, read from the model held in the field `name`."""
    outer = operator.attrgetter(name)
    return Column(inner.header, lambda row: inner.value(outer(row)), inner.label)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def csv_cell(value: Any) -> str:
    """Text for a CSV cell; text that a spreadsheet would run as a formula is quoted with an
    apostrophe (CSV injection)."""
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


async def csv_stream(rows: AsyncIterator[T], columns: Sequence[Column[T]]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    async for row in rows:
        writer.writerow([csv_cell(c.value(row)) for c in columns])
        if buffer.tell() >= CSV_CHUNK_CHARS:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


async def xlsx_file(rows: AsyncIterator[T], columns: Sequence[Column[T]], *, sheet: str) -> str:
    """Write the rows into a temporary .xlsx file and return its path (the caller deletes it)."""
    handle, path = tempfile.mkstemp(prefix="reports-", suffix=".xlsx")
    os.close(handle)
    try:
        workbook = xlsxwriter.Workbook(
            path,
            {
                "constant_memory": True,
                "strings_to_formulas": False,  # user text is never a formula
                "strings_to_urls": False,
                "remove_timezone": True,  # Excel has no time zones: times are written as UTC
            },
        )
        sheet_ = workbook.add_worksheet(sheet[:31])
        bold = workbook.add_format({"bold": True})
        day = workbook.add_format({"num_format": "yyyy-mm-dd"})
        moment = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        for col, column in enumerate(columns):
            sheet_.write_string(0, col, column.header, bold)
        line = 0
        async for row in rows:
            line += 1
            for col, column in enumerate(columns):
                _write_cell(sheet_, line, col, _plain(column.value(row)), day, moment)
        await asyncio.to_thread(workbook.close)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return path


def _write_cell(sheet: Any, line: int, col: int, value: Any, day: Any, moment: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(line, col, value)
    elif isinstance(value, int | float):
        sheet.write_number(line, col, value)
    elif isinstance(value, datetime):
        sheet.write_datetime(line, col, value, moment)
    elif isinstance(value, date):
        sheet.write_datetime(line, col, datetime(value.year, value.month, value.day), day)
    else:
        sheet.write_string(line, col, str(value))


async def file_chunks(path: str, chunk_bytes: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A file's bytes, read off the event loop; the file is deleted afterwards."""
    try:
        with open(path, "rb") as handle:  # noqa: ASYNC230 - each read runs in a thread below
            while chunk := await asyncio.to_thread(handle.read, chunk_bytes):
                yield chunk
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
