"""The support use cases on in-memory repositories: threads from events, scoped per partner and
for staff; messages posted once per Idempotency-Key, counted unread for the other side and
marked read; system notes once per event, as a code in the default language."""

from __future__ import annotations

import uuid
from dataclasses import replace as changed

import pytest

from contracts import EventEnvelope, envelope_for
from contracts.events.common import Actor
from contracts.events.companies import CompanyCreated, CompanyUpdated
from contracts.events.instances import InstanceCancellationRequested
from contracts.events.licenses import LicenseRevoked
from contracts.events.partners import PartnerUpdated
from contracts.events.support import MessagePosted
from servicekit.audit import AuditEntry
from servicekit.errors import NotFound, PartnerNotAllowed
from servicekit.pagination import Page
from servicekit.principal import Principal
from support.domain.model import Side
from support.service_layer.queries import ThreadView, reader_language
from support.service_layer.testing import SupportTestApp, bootstrap_test_app

pytestmark = pytest.mark.unit

WHO = Actor(user_id="usr-ana", role="partner")
ANA = Principal(user_id="usr-ana", role="partner", partner_id="ptn-acme")
EVE = Principal(user_id="usr-eve", role="partner", partner_id="ptn-rival")
SAM = Principal(user_id="usr-sam", role="staff", partner_id="ptn-acme", partner_ids=frozenset({"ptn-acme", "ptn-beta"}))


@pytest.fixture
def app() -> SupportTestApp:
    return bootstrap_test_app()


async def company(app: SupportTestApp, partner_id: str, name: str, company_id: str | None = None) -> str:
    """A company.created event delivered; returns its thread's id."""
    company_id = company_id or f"cmp-{uuid.uuid4().hex[:8]}"
    created = CompanyCreated(company_id=company_id, partner_id=partner_id, name=name, tax_id="B1", created_by=WHO)
    await app.event_handlers.company_created(envelope_for(created, source="instances"))
    return f"thr-{company_id}"


def revoked(company_id: str, *, serial: str | None = "SER-1") -> EventEnvelope[LicenseRevoked]:
    payload = LicenseRevoked(
        license_id="lic-1", instance_id="ins-1", partner_id="ptn-acme", company_id=company_id,
        pin="4821", serial=serial, reason="Employee left", revoked_by=WHO,
    )  # fmt: skip
    return envelope_for(payload, source="instances")


def published(app: SupportTestApp, message_id: str) -> list[MessagePosted]:
    return [p.data for p in app.messages.pending[message_id] if isinstance(p, EventEnvelope)]


# ------------------------------------------------------------------ threads from events


async def test_a_company_gets_one_thread_named_as_its_latest_event_says(app: SupportTestApp) -> None:
    thread_id = await company(app, "ptn-acme", "Talleres Ruiz S.L.", "cmp-1")
    await company(app, "ptn-acme", "Talleres Ruiz S.L.", "cmp-1")  # delivered again
    renamed = CompanyUpdated(
        company_id="cmp-1", partner_id="ptn-acme", name="Ruiz Hermanos", tax_id="B1", updated_by=WHO
    )
    await app.event_handlers.company_updated(envelope_for(renamed, source="instances"))

    assert thread_id == "thr-cmp-1"
    page = await app.queries.list_threads(ANA)
    assert [(v.thread.id, v.thread.company_name) for v in page.items] == [("thr-cmp-1", "Ruiz Hermanos")]


async def test_a_note_before_the_companys_event_opens_its_thread_named_later(app: SupportTestApp) -> None:
    await app.event_handlers.license_revoked(revoked("cmp-early"))
    early = await app.queries.get_thread(ANA, "thr-cmp-early")
    assert early.thread.company_name is None
    assert early.thread.message_count == 1

    await company(app, "ptn-acme", "Llegó Tarde S.A.", "cmp-early")
    named = await app.queries.get_thread(ANA, "thr-cmp-early")
    assert named.thread.company_name == "Llegó Tarde S.A."
    assert named.thread.message_count == 1, "the name arriving keeps the thread's messages"


# ------------------------------------------------------------------ who sees what


async def test_partners_see_their_threads_and_staff_those_of_their_partners(app: SupportTestApp) -> None:
    acme = await company(app, "ptn-acme", "Acme Norte")
    beta = await company(app, "ptn-beta", "Beta Sur")
    rival = await company(app, "ptn-rival", "Rival Este")

    def ids(page: Page[ThreadView]) -> set[str]:
        return {v.thread.id for v in page.items}

    assert ids(await app.queries.list_threads(ANA)) == {acme}
    assert ids(await app.queries.list_threads(EVE)) == {rival}
    assert ids(await app.queries.list_threads(SAM)) == {acme, beta}
    assert ids(await app.queries.list_threads(SAM, partner_id="ptn-beta")) == {beta}


@pytest.mark.parametrize("who", [SAM, ANA])
async def test_a_partner_not_the_callers_is_refused_naming_the_field(app: SupportTestApp, who: Principal) -> None:
    with pytest.raises(PartnerNotAllowed) as refused:
        await app.queries.list_threads(who, partner_id="ptn-rival")
    assert refused.value.status == 403
    assert refused.value.detail == "Partner ptn-rival is not one of yours."
    assert refused.value.extensions["errors"][0]["field"] == "partner_id"


async def test_another_partners_thread_is_not_found_by_any_use_case(app: SupportTestApp) -> None:
    thread_id = await company(app, "ptn-acme", "Acme Norte")
    outsider = Principal(user_id="usr-zed", role="staff", partner_id="ptn-zeta", partner_ids=frozenset({"ptn-zeta"}))
    for who in (EVE, outsider):
        for attempt in (
            app.queries.get_thread(who, thread_id),
            app.queries.list_messages(who, thread_id),
            app.commands.post_message(who, thread_id, "let me in"),
            app.commands.mark_read(who, thread_id),
        ):
            with pytest.raises(NotFound) as missing:
                await attempt
            assert missing.value.status == 404
            assert missing.value.detail == f"No thread {thread_id}."
    assert (await app.queries.get_thread(ANA, thread_id)).thread.message_count == 0, "nothing was posted"


async def test_threads_are_searched_by_company_name_literally_and_paged_most_recent_first(
    app: SupportTestApp,
) -> None:
    older = await company(app, "ptn-acme", "Talleres (Norte) S.L.")
    newer = await company(app, "ptn-acme", "TALLERES Sur")
    await company(app, "ptn-acme", "Panadería Ruiz")

    found = await app.queries.list_threads(ANA, text="talleres")
    assert [v.thread.id for v in found.items] == [newer, older]
    literal = await app.queries.list_threads(ANA, text="(norte)")
    assert [v.thread.id for v in literal.items] == [older], "the text is not a regular expression"
    assert (await app.queries.list_threads(ANA, text="S.L.$")).items == []

    first = await app.queries.list_threads(ANA, text="talleres", limit=1)
    assert [v.thread.id for v in first.items] == [newer]
    assert first.next_cursor is not None
    second = await app.queries.list_threads(ANA, text="talleres", limit=1, cursor=first.next_cursor)
    assert [v.thread.id for v in second.items] == [older]
    assert second.next_cursor is None

    await app.commands.post_message(ANA, older, "Hola")
    recent = await app.queries.list_threads(ANA, text="talleres")
    assert [v.thread.id for v in recent.items] == [older, newer], "a new message brings its thread first"


# ------------------------------------------------------------------ messages


async def test_a_message_posted_with_a_key_is_stored_once_with_its_event_and_audit(app: SupportTestApp) -> None:
    thread_id = await company(app, "ptn-acme", "Acme Norte")

    first = await app.commands.post_message(ANA, thread_id, "Marta's terminal won't sync.", idempotency_key="k-123456")
    retry = await app.commands.post_message(ANA, thread_id, "Marta's terminal won't sync.", idempotency_key="k-123456")

    assert retry == first
    assert (first.seq, first.author_side, first.author_id) == (1, Side.PARTNER, "usr-ana")
    assert (await app.queries.get_thread(ANA, thread_id)).thread.message_count == 1, "the retry takes no number"
    assert list(app.messages.messages) == [first.id]
    pending = app.messages.pending[first.id]
    assert len(pending) == 2, "one audit entry and one event, stored with the message"
    audit = pending[0]
    assert isinstance(audit, AuditEntry)
    assert (audit.action, audit.target_id, audit.detail) == ("message.post", thread_id, {"message_id": first.id})
    [event] = published(app, first.id)
    assert (event.message_id, event.thread_id, event.author_side.value, event.preview) == (
        first.id, thread_id, "partner", "Marta's terminal won't sync.",
    )  # fmt: skip


async def test_the_same_key_of_another_user_or_no_key_posts_anew(app: SupportTestApp) -> None:
    thread_id = await company(app, "ptn-acme", "Acme Norte")
    colleague = Principal(user_id="usr-bea", role="partner", partner_id="ptn-acme")

    mine = await app.commands.post_message(ANA, thread_id, "Hola", idempotency_key="k-123456")
    theirs = await app.commands.post_message(colleague, thread_id, "Hola", idempotency_key="k-123456")
    plain = [await app.commands.post_message(ANA, thread_id, "Hola") for _ in range(2)]

    assert len({mine.id, theirs.id, *(m.id for m in plain)}) == 4
    assert [m.seq for m in (mine, theirs, *plain)] == [1, 2, 3, 4]


async def test_messages_are_listed_newest_first_in_pages(app: SupportTestApp) -> None:
    thread_id = await company(app, "ptn-acme", "Acme Norte")
    for text in ("uno", "dos", "tres"):
        await app.commands.post_message(ANA, thread_id, text)

    first = await app.queries.list_messages(SAM, thread_id, limit=2)
    assert [m.body for m in first.items] == ["tres", "dos"]
    rest = await app.queries.list_messages(SAM, thread_id, limit=2, cursor=first.next_cursor)
    assert [m.body for m in rest.items] == ["uno"]
    assert rest.next_cursor is None


async def test_a_message_is_unread_for_the_other_side_until_it_marks_the_thread_read(app: SupportTestApp) -> None:
    thread_id = await company(app, "ptn-acme", "Acme Norte")
    await app.commands.post_message(ANA, thread_id, "Marta's terminal won't sync.")

    assert (await app.queries.get_thread(ANA, thread_id)).unread == 0, "the author has read it"
    as_staff = await app.queries.get_thread(SAM, thread_id)
    assert (as_staff.unread, as_staff.thread.message_count, as_staff.thread.last_side) == (1, 1, Side.PARTNER)
    listed = await app.queries.list_threads(SAM, partner_id="ptn-acme")
    assert [v.unread for v in listed.items] == [1]

    assert (await app.commands.mark_read(SAM, thread_id)).unread == 0
    assert (await app.queries.get_thread(SAM, thread_id)).unread == 0
    await app.commands.post_message(SAM, thread_id, "We are on it.")
    assert (await app.queries.get_thread(ANA, thread_id)).unread == 1
    assert (await app.queries.get_thread(SAM, thread_id)).unread == 0
    await app.commands.post_message(ANA, thread_id, "Thanks")
    assert (await app.queries.get_thread(ANA, thread_id)).unread == 0, "replying reads what came before"


async def test_the_unread_counts_kept_on_write_are_the_messages_after_each_sides_read_mark(
    app: SupportTestApp,
) -> None:
    thread_id = await company(app, "ptn-acme", "Acme Norte", "cmp-1")
    await app.commands.post_message(ANA, thread_id, "One")
    await app.commands.post_message(ANA, thread_id, "Two")
    await app.event_handlers.license_revoked(revoked("cmp-1"))
    await app.threads.mark_read(thread_id, Side.SUPPORT, 1)  # read while the rest was arriving

    def recount(side: Side) -> int:
        mark = app.threads.threads[thread_id].read_mark(side)
        return sum(m.seq > mark and m.author_side != side for m in app.messages.messages.values())

    as_staff, as_partner = await app.queries.get_thread(SAM, thread_id), await app.queries.get_thread(ANA, thread_id)
    assert (as_staff.unread, as_partner.unread) == (2, 1) == (recount(Side.SUPPORT), recount(Side.PARTNER))
    await app.commands.post_message(SAM, thread_id, "On it")
    as_staff, as_partner = await app.queries.get_thread(SAM, thread_id), await app.queries.get_thread(ANA, thread_id)
    assert (as_staff.unread, as_partner.unread) == (0, 2) == (recount(Side.SUPPORT), recount(Side.PARTNER))


# ------------------------------------------------------------------ system notes


async def test_a_revoked_license_is_noted_once_however_often_its_event_is_delivered(app: SupportTestApp) -> None:
    thread_id = await company(app, "ptn-acme", "Acme Norte", "cmp-1")
    event = revoked("cmp-1")

    for _ in range(2):
        await app.event_handlers.license_revoked(event)

    [note] = (await app.queries.list_messages(ANA, thread_id)).items
    assert note.id == f"note-{event.id}"
    assert (note.author_side, note.author_id) == (Side.SYSTEM, "system")
    assert note.note is not None
    assert (note.note.code, dict(note.note.params)) == (
        "license_revoked_on_terminal",
        {"license_id": "lic-1", "pin": "4821", "serial": "SER-1", "reason": "Employee left"},
    )
    assert note.body == "Se ha revocado la licencia lic-1 (PIN 4821, terminal SER-1). Motivo: Employee left"
    assert note.text("en") == "License lic-1 (PIN 4821, terminal SER-1) was revoked. Reason: Employee left"
    [posted] = published(app, note.id)
    assert (posted.code, posted.params) == ("license_revoked_on_terminal", dict(note.note.params))
    [envelope] = [p for p in app.messages.pending[note.id] if isinstance(p, EventEnvelope)]
    assert envelope.causation_id == event.id
    assert not any(isinstance(p, AuditEntry) for p in app.messages.pending[note.id]), "no user acted"


async def test_notes_say_what_happened_and_are_unread_for_both_sides(app: SupportTestApp) -> None:
    thread_id = await company(app, "ptn-acme", "Acme Norte", "cmp-1")
    cancelled = InstanceCancellationRequested(
        instance_id="ins-1", partner_id="ptn-acme", company_id="cmp-1", reason="Closing", requested_by=WHO
    )

    await app.event_handlers.license_revoked(revoked("cmp-1", serial=None))
    await app.event_handlers.cancellation_requested(envelope_for(cancelled, source="instances"))

    notes = (await app.queries.list_messages(ANA, thread_id)).items
    assert [(m.note.code if m.note else None, m.text("en")) for m in notes] == [
        ("cancellation_requested", "Cancellation requested for instance ins-1. Reason: Closing"),
        ("license_revoked", "License lic-1 (PIN 4821) was revoked. Reason: Employee left"),
    ]
    assert (await app.queries.get_thread(ANA, thread_id)).unread == 2
    assert (await app.queries.get_thread(SAM, thread_id)).unread == 2
    thread = (await app.queries.get_thread(ANA, thread_id)).thread
    assert thread.last_note is not None
    assert thread.last_note.code == "cancellation_requested"
    assert thread.last_preview_in("en") == "Cancellation requested for instance ins-1. Reason: Closing"


# ------------------------------------------------------------------ who writes: names and the partner contact


async def test_the_partner_user_who_last_wrote_is_the_threads_contact_and_staff_change_nothing(
    app: SupportTestApp,
) -> None:
    thread_id = await company(app, "ptn-acme", "Talleres Gómez")
    mary = changed(ANA, user_id="usr-mary", name="Mary Smith", language="en")
    posted = await app.commands.post_message(mary, thread_id, "Hello")
    assert posted.author_name == "Mary Smith"
    await app.commands.post_message(changed(SAM, name="Samuel"), thread_id, "Looking")
    thread = (await app.queries.get_thread(SAM, thread_id)).thread
    assert thread.partner_contact is not None
    assert (thread.partner_contact.name, thread.partner_contact.language) == ("Mary Smith", "en")
    assert reader_language(thread, None) == ("en", "partner_contact")
    assert reader_language(thread, "es") == ("es", "asked")

    # An old token (a name, no language) renames the contact and keeps the language known.
    await app.commands.post_message(changed(ANA, name="Ana"), thread_id, "Hola")
    thread = (await app.queries.get_thread(SAM, thread_id)).thread
    assert thread.partner_contact is not None
    assert (thread.partner_contact.name, thread.partner_contact.language) == ("Ana", "en")
    # A token without a name leaves the contact as it was.
    await app.commands.post_message(ANA, thread_id, "Otra vez")
    assert (await app.queries.get_thread(SAM, thread_id)).thread.partner_contact == thread.partner_contact

    fresh = (await app.queries.get_thread(SAM, await company(app, "ptn-acme", "Nadie"))).thread
    assert (fresh.partner_contact, reader_language(fresh, None)) == (None, ("es", "default"))
    await app.event_handlers.partner_updated(
        envelope_for(PartnerUpdated(partner_id="ptn-acme", name="Acme S.L."), source="gateway")
    )
    assert await app.partners.name("ptn-acme") == "Acme S.L."
