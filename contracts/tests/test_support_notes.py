"""System notes as codes: every code reads in both languages, naming the same values, and a
`message.posted` without a code (as published before codes) still parses."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime

import pytest

from contracts.events.support import NOTE_LANGUAGES, NOTE_TEXTS, MessagePosted, NoteCode, render_note

pytestmark = pytest.mark.unit


def names(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("code", list(NoteCode))
def test_every_note_reads_in_every_language_with_the_same_values(code: NoteCode) -> None:
    texts = NOTE_TEXTS[code]
    assert set(texts) == set(NOTE_LANGUAGES)
    assert len({frozenset(names(text)) for text in texts.values()}) == 1, texts
    assert texts["es"] != texts["en"]


def test_a_note_renders_its_values_as_they_are() -> None:
    params = {"instance_id": "ins-1", "reason": "{pin} 100% {0}"}  # braces in a value are text, not fields
    assert render_note("cancellation_requested", params, "es") == (
        "Se ha solicitado la cancelación de la instancia ins-1. Motivo: {pin} 100% {0}"
    )
    assert render_note("cancellation_requested", params, "fr") == render_note("cancellation_requested", params, "es")
    assert render_note("cancellation_requested", {"instance_id": "ins-1"}, "en") == (
        "Cancellation requested for instance ins-1. Reason: "
    )
    assert render_note("a_later_code", params, "en") is None


def test_message_posted_with_and_without_a_code() -> None:
    base = {
        "message_id": "msg-1", "thread_id": "thr-1", "partner_id": "ptn-1", "company_id": "cmp-1",
        "author_id": "system", "author_side": "system", "preview": "…", "posted_at": datetime.now(UTC),
    }  # fmt: skip
    old = MessagePosted.model_validate(base)
    assert (old.code, old.params) == (None, None)
    new = MessagePosted.model_validate(base | {"code": "license_revoked", "params": {"pin": "1"}})
    assert (new.code, new.params) == ("license_revoked", {"pin": "1"})
    assert re.fullmatch(r"[a-z_]+", new.code or "")
