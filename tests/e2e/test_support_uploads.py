"""Issue #21 through the gateway: a 10 MB attachment passes the gateway's and the support
service's body limits on the upload route (the other routes keep theirs), one byte over the
setting is the support service's 413 naming `file`, and the download keeps its safe headers."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject

from servicekit.testing import eventually

from .conftest import Stack, add_user, new_company

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

MAX_BYTES = 10 * 1024 * 1024


def pdf_of(size: int) -> bytes:
    """A valid one-page PDF of about `size` bytes (its content stream is a long comment)."""
    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    stream = DecodedStreamObject()
    stream.set_data(b"% " + b"A" * (size - 2000) + b"\n")
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_a_10_mb_file_passes_the_gateway_and_one_byte_over_the_setting_is_named(stack: Stack) -> None:
    partner = f"ptn-{uuid.uuid4().hex[:8]}"
    token = await stack.token(await add_user(stack, f"usr-{uuid.uuid4().hex[:8]}", "partner", (partner,)))
    async with stack.client(token) as api:
        api.timeout = 120
        company_id = await new_company(api)

        async def thread() -> dict[str, Any] | None:
            found = await api.get(f"/api/v1/threads/thr-{company_id}")
            return found.json() if found.status_code == 200 else None

        thread_id = (await eventually(thread))["id"]
        document = pdf_of(MAX_BYTES - 1024)
        assert len(document) <= MAX_BYTES
        sent = await api.post(
            f"/api/v1/threads/{thread_id}/attachments", files={"file": ("manual.pdf", document, "application/pdf")}
        )
        assert sent.status_code == 201, sent.text[:500]
        assert sent.json()["size"] == len(document)

        over = b"%PDF-1.7\n" + b"0" * (MAX_BYTES + 1 - 9)
        too_large = await api.post(
            f"/api/v1/threads/{thread_id}/attachments", files={"file": ("over.pdf", over, "application/pdf")}
        )
        assert too_large.status_code == 413
        assert too_large.json()["errors"][0]["field"] == "file", "the support service's answer, naming the file"

        elsewhere = await api.post(f"/api/v1/threads/{thread_id}/messages", content=b"{" + b" " * 2_000_000 + b"}")
        assert elsewhere.status_code == 413, "other routes keep the usual limit"

        download = await api.get(f"/api/v1/threads/{thread_id}/attachments/{sent.json()['id']}")
        assert download.status_code == 200 and download.content == document
        assert download.headers["content-type"] == "application/pdf"
        assert download.headers["x-content-type-options"] == "nosniff"
        assert download.headers["content-security-policy"] == "default-src 'none'; sandbox"
        assert download.headers["content-disposition"].startswith("attachment;")
