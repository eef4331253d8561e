"""The contract as a document: HTML (Jinja2, autoescaped) and PDF (fpdf2, with fonts for any script)."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

from instances.domain.model import Contract
from servicekit.pdf import SANS, UnicodePDF

_ENV = Environment(loader=PackageLoader("instances", "templates"), autoescape=select_autoescape(["html"]))


class ContractRenderer:
    def html(self, contract: Contract) -> str:
        return _ENV.get_template("contract.html").render(c=contract)

    def pdf(self, contract: Contract) -> bytes:
        pdf = UnicodePDF(format="A4")
        pdf.set_title(f"Contract {contract.number}")
        pdf.set_creator("partnerapp")
        pdf.add_page()
        pdf.set_font(SANS, "B", 16)
        pdf.cell(0, 10, f"Service contract {contract.number}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(SANS, size=10)
        pdf.cell(0, 6, f"Issued {contract.issued_at:%Y-%m-%d %H:%M} UTC", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        for title, party in (("Vendor", contract.vendor), ("Customer", contract.customer)):
            pdf.set_font(SANS, "B", 11)
            pdf.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(SANS, size=10)
            lines = [party.name, f"Tax id: {party.tax_id}", party.address]
            lines += [f"Contact: {party.contact} <{party.email}>"] if party.contact else []
            for line in lines:
                pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        pdf.set_font(SANS, "B", 11)
        pdf.cell(0, 7, "Product, term and price", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(SANS, size=10)
        p = contract.pricing
        rows = [
            ("Product", f"{contract.product_name} ({contract.product_type.value})"),
            ("Profile", contract.profile or "-"),
            ("Partner", contract.partner_id),
            ("Term", f"{contract.term_months} months from activation"),
            ("Seats", str(p.seats)),
            ("Price per seat and month", f"{p.unit_price} {p.currency}"),
            ("Monthly total", f"{p.monthly_total} {p.currency}"),
            ("Total for the term", f"{p.term_total} {p.currency}"),
        ]
        with pdf.table(col_widths=(60, 120), text_align="LEFT") as table:
            for label, value in rows:
                table.row([label, value])
        pdf.ln(4)
        pdf.set_font(SANS, "B", 11)
        pdf.cell(0, 7, "Terms", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(SANS, size=9)
        pdf.multi_cell(0, 5, contract.terms)
        return bytes(pdf.output())
