"""The contract as a document: HTML (Jinja2, autoescaped) and PDF (fpdf2, with fonts for any script),
in the reader's language (es or en): its labels, its amounts and its terms as issued in that language."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from jinja2 import Environment, PackageLoader, select_autoescape

from instances.domain.model import Contract
from servicekit.i18n import DEFAULT_LANGUAGE, Language, as_language
from servicekit.pdf import SANS, UnicodePDF

_ENV = Environment(loader=PackageLoader("instances", "templates"), autoescape=select_autoescape(["html"]))

_LABELS: dict[Language, dict[str, str]] = {
    "es": {
        "document": "Contrato {number}",
        "title": "Contrato de servicio {number}",
        "issued": "Emitido el {issued} UTC",
        "vendor": "Proveedor",
        "customer": "Cliente",
        "tax_id": "NIF",
        "contact": "Contacto",
        "product_term_price": "Producto, duración y precio",
        "product": "Producto",
        "profile": "Perfil",
        "partner": "Partner",
        "term": "Duración",
        "term_value": "{months} meses desde la activación",
        "seats": "Licencias",
        "unit_price": "Precio por licencia y mes",
        "monthly_total": "Total mensual",
        "term_total": "Total del contrato",
        "terms": "Condiciones",
    },
    "en": {
        "document": "Contract {number}",
        "title": "Service contract {number}",
        "issued": "Issued {issued} UTC",
        "vendor": "Vendor",
        "customer": "Customer",
        "tax_id": "Tax id",
        "contact": "Contact",
        "product_term_price": "Product, term and price",
        "product": "Product",
        "profile": "Profile",
        "partner": "Partner",
        "term": "Term",
        "term_value": "{months} months from activation",
        "seats": "Seats",
        "unit_price": "Price per seat and month",
        "monthly_total": "Monthly total",
        "term_total": "Total for the term",
        "terms": "Terms",
    },
}


def amount(value: Decimal, currency: str, language: Language) -> str:
    """`1.234,50 EUR` in Spanish, `1,234.50 EUR` in English."""
    text = f"{value:,.2f}"
    if language == "es":
        text = text.replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{text} {currency}"


@dataclass(frozen=True)
class ContractText:
    """Every text of the contract in one language, for both formats."""

    language: Language
    document: str
    title: str
    issued: str
    parties: list[tuple[str, list[str]]]
    section: str
    rows: list[tuple[str, str]]
    terms_title: str
    terms: str

    @classmethod
    def of(cls, contract: Contract, language: Language) -> ContractText:
        t = _LABELS[language]
        p = contract.pricing
        parties = []
        for title, party in ((t["vendor"], contract.vendor), (t["customer"], contract.customer)):
            lines = [party.name, f"{t['tax_id']}: {party.tax_id}", party.address]
            lines += [f"{t['contact']}: {party.contact} <{party.email}>"] if party.contact else []
            parties.append((title, lines))
        return cls(
            language=language,
            document=t["document"].format(number=contract.number),
            title=t["title"].format(number=contract.number),
            issued=t["issued"].format(issued=f"{contract.issued_at:%Y-%m-%d %H:%M}"),
            parties=parties,
            section=t["product_term_price"],
            rows=[
                (t["product"], f"{contract.product_name} ({contract.product_type.value})"),
                (t["profile"], contract.profile or "-"),
                (t["partner"], contract.partner_id),
                (t["term"], t["term_value"].format(months=contract.term_months)),
                (t["seats"], str(p.seats)),
                (t["unit_price"], amount(p.unit_price, p.currency, language)),
                (t["monthly_total"], amount(p.monthly_total, p.currency, language)),
                (t["term_total"], amount(p.term_total, p.currency, language)),
            ],
            terms_title=t["terms"],
            terms=contract.terms_in(language),
        )


class ContractRenderer:
    def html(self, contract: Contract, language: str = DEFAULT_LANGUAGE) -> str:
        return _ENV.get_template("contract.html").render(d=ContractText.of(contract, as_language(language)))

    def pdf(self, contract: Contract, language: str = DEFAULT_LANGUAGE) -> bytes:
        d = ContractText.of(contract, as_language(language))
        pdf = UnicodePDF(format="A4")
        pdf.set_title(d.document)
        pdf.set_lang(d.language)
        pdf.set_creator("partnerapp")
        pdf.add_page()
        pdf.set_font(SANS, "B", 16)
        pdf.cell(0, 10, d.title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(SANS, size=10)
        pdf.cell(0, 6, d.issued, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        for title, lines in d.parties:
            pdf.set_font(SANS, "B", 11)
            pdf.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(SANS, size=10)
            for line in lines:
                pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        pdf.set_font(SANS, "B", 11)
        pdf.cell(0, 7, d.section, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(SANS, size=10)
        with pdf.table(col_widths=(60, 120), text_align="LEFT") as table:
            for label, value in d.rows:
                table.row([label, value])
        pdf.ln(4)
        pdf.set_font(SANS, "B", 11)
        pdf.cell(0, 7, d.terms_title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(SANS, size=9)
        pdf.multi_cell(0, 5, d.terms)
        return bytes(pdf.output())
