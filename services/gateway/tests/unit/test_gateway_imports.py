"""A gateway process does not load what only some routes use (the PDF library and its fonts, the
Web Push client): they weigh some 40 MB of every replica's memory and are imported on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gateway.adapters.hardware_catalogue import HardwareCatalogue

pytestmark = pytest.mark.unit

LOADED_ON_FIRST_USE = ("fpdf", "fontTools", "uharfbuzz", "PIL", "pywebpush", "requests", "xlsxwriter")


def test_building_the_gateway_imports_no_pdf_or_web_push_library() -> None:
    probe = (
        "import sys, gateway.bootstrap, gateway.entrypoints.http\n"
        f"print(','.join(m for m in {LOADED_ON_FIRST_USE!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout

    assert loaded.strip() == ""


def test_the_hardware_pdf_still_renders_when_asked() -> None:
    document = HardwareCatalogue.load().pdf(language="es")

    assert document.startswith(b"%PDF-")
