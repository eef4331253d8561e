"""The hardware compatibility list as a PDF (apart from the catalogue, so that fpdf2 and its fonts
are imported with the first PDF asked for, not by every gateway process)."""

from __future__ import annotations

from datetime import UTC, datetime

from fpdf.fonts import FontFace

from gateway.adapters.hardware_catalogue import Language
from gateway.domain.hardware import (
    CompatibilityList,
    Feature,
    HardwareQuery,
    Support,
)
from servicekit.pdf import SANS, UnicodePDF

_TEXT: dict[str, dict[Language, str]] = {
    "title": {
        "en": "Working Day Suite - hardware compatibility list",
        "es": "Working Day Suite - lista de compatibilidad de hardware",
    },
    "edition": {"en": "List {version}, updated {updated}", "es": "Lista {version}, actualizada el {updated}"},
    "count": {"en": "{n} tested terminals", "es": "{n} terminales probados"},
    "intro": {
        "en": "Some Working Day Suite features depend on the terminal's maker, operating system and version. "
        "This list shows the result of each feature on the terminals tested.",
        "es": "Algunas características de Working Day Suite relacionadas con el hardware dependen del fabricante "
        "del terminal, del sistema operativo y de su versión. Esta lista muestra el resultado de cada "
        "característica en los terminales probados.",
    },
    "filters": {"en": "Filters", "es": "Filtros"},
    "legend": {
        "en": "Yes: supported.  Partial: works with the limits in the note.  No: not supported.",
        "es": "Sí: compatible.  Parcial: funciona con los límites de la nota.  No: no compatible.",
    },
    "maker": {"en": "Maker", "es": "Fabricante"},
    "model": {"en": "Model", "es": "Modelo"},
    "os": {"en": "OS (tested versions)", "es": "S.O. (versiones probadas)"},
    "app": {"en": "App version", "es": "Versión app"},
    "search": {"en": "search", "es": "búsqueda"},
    "feature": {"en": "supports", "es": "compatible con"},
    "none": {
        "en": "No tested terminal matches these filters.",
        "es": "Ningún terminal probado cumple estos filtros.",
    },
    "notes": {"en": "Notes", "es": "Notas"},
    "page": {"en": "Page {n} of {{nb}}", "es": "Página {n} de {{nb}}"},
}
_FILLS: dict[Support, tuple[int, int, int]] = {
    Support.SUPPORTED: (198, 239, 206),
    Support.PARTIAL: (255, 235, 156),
    Support.UNSUPPORTED: (255, 199, 206),
}
_HEADINGS = FontFace(emphasis="BOLD", size_pt=7.5, fill_color=(230, 230, 230))
# Maker, model, OS, app version, then one equal column per feature (millimetres, scaled to the page).
_WIDTHS = (22, 38, 30, 16, *(21 for _ in Feature))


class _Document(UnicodePDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="landscape", unit="mm", format="A4")
        self._footer_text = footer_text

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(SANS, size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 6, self._footer_text.format(n=self.page_no()), align="C")
        self.set_text_color(0, 0, 0)


def render_pdf(compatibility: CompatibilityList, query: HardwareQuery, *, language: Language = "en") -> bytes:
    def t(key: str) -> str:
        return _TEXT[key][language]

    terminals = compatibility.select(query)
    pdf = _Document(t("page"))
    pdf.set_title(t("title"))
    pdf.set_creator("partnerapp")
    pdf.set_lang(language)
    # The document's date is the list's, so the same list and filters give the same bytes.
    pdf.set_creation_date(datetime(*compatibility.updated.timetuple()[:3], tzinfo=UTC))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    pdf.set_font(SANS, "B", 15)
    pdf.cell(0, 9, t("title"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, size=10)
    edition = t("edition").format(version=compatibility.version, updated=compatibility.updated.isoformat())
    pdf.cell(0, 6, f"{edition}  |  {t('count').format(n=len(terminals))}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, size=9)
    pdf.multi_cell(0, 4.5, t("intro"), new_x="LMARGIN", new_y="NEXT")
    filters = _filters_text(query, language)
    if filters:
        pdf.set_font(SANS, "B", 9)
        pdf.multi_cell(0, 5, f"{t('filters')}: {filters}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(SANS, size=9)
    pdf.multi_cell(0, 5, t("legend"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    if not terminals:
        pdf.set_font(SANS, "I", 11)
        pdf.cell(0, 10, t("none"), new_x="LMARGIN", new_y="NEXT")
        return bytes(pdf.output())

    notes: dict[str, int] = {}  # the same note text gets the same number everywhere
    pdf.set_font(SANS, size=8)
    with pdf.table(
        col_widths=_WIDTHS,
        text_align="LEFT",
        line_height=4.2,
        headings_style=_HEADINGS,
        repeat_headings=1,  # on every page
    ) as table:
        heading = table.row()
        for text in (t("maker"), t("model"), t("os"), t("app"), *(f.labels.text(language) for f in Feature)):
            heading.cell(text)
        for terminal in terminals:
            row = table.row()
            row.cell(terminal.maker)
            row.cell(terminal.model)
            row.cell(terminal.os_text)
            row.cell(terminal.tested_app_version)
            for feature in Feature:
                result = terminal.features[feature]
                text = result.support.labels.text(language)
                if result.note:
                    text += f" ({notes.setdefault(result.note, len(notes) + 1)})"
                row.cell(text, style=FontFace(fill_color=_FILLS[result.support]))

    if notes:
        pdf.ln(3)
        pdf.set_font(SANS, "B", 9)
        pdf.cell(0, 6, t("notes"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(SANS, size=8)
        for note, number in notes.items():
            pdf.multi_cell(0, 4.2, f"({number}) {note}", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _filters_text(query: HardwareQuery, language: Language) -> str:
    def t(key: str) -> str:
        return _TEXT[key][language]

    parts = [
        f"{t('maker').lower()} = {query.maker}" if query.maker else "",
        f"{t('model').lower()} = {query.model}" if query.model else "",
        f"{t('os').split(' (')[0]} = {query.os.label}" if query.os else "",
        f'{t("search")} "{query.q}"' if query.q else "",
    ]
    if query.features:
        labels = ", ".join(f.labels.text(language) for f in Feature if f in query.features)
        parts.append(f"{t('feature')} {labels}")
    return "; ".join(p for p in parts if p)
