"""The working-time record of a month as files, in Spanish or English.

CSV: UTF-8 with a byte order mark and `;` between fields, lines ending CRLF, so that Excel in a
Spanish locale (where `,` is the decimal mark) opens it in columns with accents intact; times in the
time zone asked for (ISO 8601 with offset), durations in seconds and as H:MM; a last `TOTAL` line.

PDF (fpdf2 through `servicekit.pdf.UnicodePDF`, which embeds fonts for any script, so a worker's name
in any alphabet renders): the same table, the worker, the month, the rules' version, and the content
hash, the SHA-256 of the CSV of the same month in the same language (download the CSV and its SHA-256
matches the one printed: the evidence of what the PDF shows). Both answers carry it in
`X-Content-SHA256`. Totals come from the same `MonthRecord` the API answers with.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from activity.domain.working_time import WorkDay
from activity.service_layer.field_operations import MonthRecord
from servicekit.i18n import Language
from servicekit.pdf import SANS, UnicodePDF

_TEXT: dict[str, dict[Language, str]] = {
    "title": {"es": "Registro de jornada", "en": "Working-time record"},
    "worker": {"es": "Trabajador", "en": "Worker"},
    "instance": {"es": "Instancia", "en": "Instance"},
    "month": {"es": "Mes", "en": "Month"},
    "tz": {"es": "Zona horaria", "en": "Time zone"},
    "date": {"es": "Fecha", "en": "Date"},
    "start": {"es": "Inicio", "en": "Start"},
    "end": {"es": "Fin", "en": "End"},
    "pauses": {"es": "Pausas", "en": "Pauses"},
    "pause_s": {"es": "Pausa (s)", "en": "Paused (s)"},
    "worked_s": {"es": "Trabajado (s)", "en": "Worked (s)"},
    "worked": {"es": "Trabajado", "en": "Worked"},
    "flags": {"es": "Avisos", "en": "Flags"},
    "version": {"es": "Versión", "en": "Version"},
    "corrected_by": {"es": "Corregido por", "en": "Corrected by"},
    "corrected_at": {"es": "Corregido el", "en": "Corrected at"},
    "reason": {"es": "Motivo", "en": "Reason"},
    "total": {"es": "TOTAL", "en": "TOTAL"},
    "rules": {"es": "Reglas", "en": "Rules"},
    "hash": {"es": "SHA-256 del contenido (CSV del mismo mes)", "en": "Content SHA-256 (CSV of the same month)"},
    "generated": {"es": "Generado", "en": "Generated"},
    "none": {"es": "(sin nombre)", "en": "(no name)"},
    "legal": {
        "es": "Registro diario de jornada (art. 34.9 del Estatuto de los Trabajadores). Hora del terminal.",
        "en": "Daily working-time record (art. 34.9 Spanish Workers' Statute). Times as the terminal recorded them.",
    },
}
_FLAGS: dict[str, dict[Language, str]] = {
    "unmatched_clock_in": {"es": "entrada sin salida", "en": "clock-in without clock-out"},
    "unmatched_clock_out": {"es": "salida sin entrada", "en": "clock-out without clock-in"},
    "repeated_clock_in": {"es": "entrada repetida", "en": "repeated clock-in"},
    "overlapping_breaks": {"es": "pausas solapadas", "en": "overlapping breaks"},
    "unmatched_break_start": {"es": "pausa sin fin", "en": "break without end"},
    "unmatched_break_end": {"es": "fin de pausa sin inicio", "en": "break end without start"},
    "break_outside_work": {"es": "pausa fuera de jornada", "en": "break outside work"},
    "crosses_midnight": {"es": "pasa de medianoche", "en": "crosses midnight"},
    "late_sync": {"es": "sincronizado tarde", "en": "synced late"},
    "clock_skew": {"es": "reloj del terminal adelantado", "en": "terminal clock ahead"},
}
COLUMNS = (
    "date",
    "start",
    "end",
    "pauses",
    "pause_s",
    "worked_s",
    "worked",
    "flags",
    "version",
    "corrected_by",
    "corrected_at",
    "reason",
)


def text(key: str, language: Language) -> str:
    return _TEXT[key][language]


def flag_text(flag: str, language: Language) -> str:
    return _FLAGS.get(flag, {}).get(language, flag)


def hours(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}"


def _at(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else ""


def _clock(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M") if moment else "—"


def _row(day: WorkDay, tz: ZoneInfo, language: Language) -> list[str]:
    paused = sum(p.seconds for p in day.pauses)
    return [
        day.date.isoformat(),
        _at(day.start, tz),
        _at(day.end, tz),
        ", ".join(f"{_clock(p.start, tz)}-{_clock(p.end, tz)}" for p in day.pauses),
        str(paused),
        str(day.worked_s),
        hours(day.worked_s),
        ", ".join(flag_text(f, language) for f in day.flags),
        str(day.version),
        day.corrected_by or "",
        _at(day.corrected_at, tz),
        day.reason or "",
    ]


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    media_type: str
    filename: str
    sha256: str  # of the CSV of the same month and language


def month_csv(record: MonthRecord, tz: ZoneInfo, language: Language) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([text(c, language) for c in COLUMNS])
    for day in record.days:
        writer.writerow(_row(day, tz, language))
    total = record.total_worked_s
    writer.writerow([text("total", language), "", "", "", "", str(total), hours(total), "", "", "", "", ""])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _filename(record: MonthRecord, extension: str) -> str:
    pin = "".join(ch for ch in record.worker.pin if ch.isalnum())
    return f"working-time-{record.worker.instance_id}-{pin}-{record.month}.{extension}"


def export_csv(record: MonthRecord, tz: ZoneInfo, language: Language) -> ExportFile:
    content = month_csv(record, tz, language)
    return ExportFile(content, "text/csv; charset=utf-8", _filename(record, "csv"), hashlib.sha256(content).hexdigest())


def export_pdf(record: MonthRecord, tz: ZoneInfo, language: Language, now: datetime) -> ExportFile:
    digest = hashlib.sha256(month_csv(record, tz, language)).hexdigest()
    w = record.worker
    pdf = UnicodePDF(format="A4", orientation="landscape")
    pdf.set_title(f"{text('title', language)} {record.month}")
    pdf.set_lang(language)
    pdf.set_creator("partnerapp")
    pdf.add_page()
    pdf.set_font(SANS, "B", 15)
    pdf.cell(0, 9, f"{text('title', language)} · {record.month}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, size=10)
    for label, value in (
        (text("worker", language), f"{w.user_name or text('none', language)} (PIN {w.pin})"),
        (text("instance", language), w.instance_id),
        (text("tz", language), str(tz.key)),
        (text("rules", language), record.rules_version),
    ):
        pdf.cell(0, 6, f"{label}: {value}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, size=8)
    pdf.multi_cell(0, 4, text("legal", language), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    shown = ("date", "start", "end", "pauses", "worked", "flags", "version", "corrected_by", "reason")
    widths = (22, 16, 16, 50, 18, 55, 14, 30, 56)
    pdf.set_font(SANS, size=8)
    with pdf.table(col_widths=widths, text_align="LEFT", first_row_as_headings=True) as table:
        table.row([text(c, language) for c in shown])
        for day in record.days:
            paused = ", ".join(f"{_clock(p.start, tz)}-{_clock(p.end, tz)}" for p in day.pauses)
            table.row(
                [
                    day.date.isoformat(),
                    _clock(day.start, tz),
                    _clock(day.end, tz),
                    paused,
                    hours(day.worked_s),
                    ", ".join(flag_text(f, language) for f in day.flags),
                    str(day.version),
                    day.corrected_by or "",
                    day.reason or "",
                ]
            )
        table.row([text("total", language), "", "", "", hours(record.total_worked_s), "", "", "", ""])
    pdf.ln(3)
    pdf.set_font(SANS, size=9)
    pdf.cell(
        0,
        6,
        f"{text('total', language)}: {record.total_worked_s} s ({hours(record.total_worked_s)})",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(0, 6, f"{text('hash', language)}: {digest}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, f"{text('generated', language)}: {now.isoformat(timespec='seconds')}", new_x="LMARGIN", new_y="NEXT")
    return ExportFile(bytes(pdf.output()), "application/pdf", _filename(record, "pdf"), digest)
