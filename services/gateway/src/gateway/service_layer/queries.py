"""The gateway's reads: who is calling (every call), the user's profile and partners, screens
composed from several services, the live notification stream, the audit, the hardware list."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from gateway.domain.hardware import CompatibilityList, HardwareQuery, InvalidFilter, Terminal
from gateway.domain.model import Session, SessionEnded, User, active, not_associated
from gateway.domain.notifications import REPLAY_LIMIT, LiveStreams, Notification, parse_stream_id
from gateway.domain.views import Degraded, View
from gateway.service_layer.access import AccessCache
from gateway.service_layer.ports import (
    AuditLog,
    AuditQuery,
    AuditRecord,
    BackendRefused,
    Backends,
    BackendUnavailable,
    Catalogue,
    NotificationLog,
    PartnerDirectory,
    SessionRepository,
    UserRepository,
)
from gateway.service_layer.webhooks import WebhookQueries
from servicekit.errors import InvalidInput, field_error
from servicekit.handlers import HandlerTable
from servicekit.pagination import Page
from servicekit.principal import Principal

T = TypeVar("T")

TERMINALS_PER_VIEW = 10
LICENSES_PER_VIEW = 50
INSTANCES_PER_THREAD_VIEW = 50
OPTIONAL_DEADLINE_SLACK = 2.0
"""An optional part may take this many times what the view's required part took (if that is longer)..."""
OPTIONAL_DEADLINE_CAP = 3.0
"""...but at most this many times the configured deadline."""


@dataclass(frozen=True)
class PartnerChoice:
    """A partner the user may act for, and whether they act for it now (R-11's selector)."""

    id: str
    name: str
    acting: bool


@dataclass(frozen=True)
class HardwareSelection:
    """The list's edition, and its terminals that pass the filters, in the order asked."""

    compatibility: CompatibilityList
    items: list[Terminal]


class GatewayQueries:
    def __init__(
        self,
        *,
        users: UserRepository,
        sessions: SessionRepository,
        partners: PartnerDirectory,
        backends: Backends,
        audit: AuditLog,
        notification_log: NotificationLog,
        live: LiveStreams,
        catalogue: Catalogue,
        vapid_public_key: str,
        optional_timeout: float,
        access: AccessCache | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Without `access` (a cache no feed polls, so never current) every call reads the store."""
        self._access = access or AccessCache()
        self._users = users
        self._sessions = sessions
        self._partners = partners
        self._backends = backends
        self._audit = audit
        self._notification_log = notification_log
        self._live = live
        self._catalogue = catalogue
        self._vapid_public_key = vapid_public_key
        self._optional_timeout = optional_timeout
        self._clock = clock

    # ------------------------------------------------------------------ the caller

    async def authenticate(self, claims: Mapping[str, Any], principal: Principal) -> Principal:
        """Every call: the token's session is still open, and its user still acts for that partner."""
        session_id = claims.get("sid")
        if not isinstance(session_id, str):
            raise SessionEnded("The access token belongs to no session.")
        session, user = await self._session_and_user(session_id, principal.user_id)
        now = self._clock()
        if session is None or not session.active(now) or session.user_id != principal.user_id:
            raise SessionEnded("The session has ended; log in again.")
        user = active(user)
        # All the token's partners, not only the acting one: the services scope a staff member's
        # filters by the token's `partners`, so one the user lost must not ride on it.
        partners = set(user.partner_ids)
        if principal.partner_id not in partners or not principal.partner_ids <= partners or user.role != principal.role:
            raise SessionEnded("The user no longer acts for this partner; log in again.")
        return Principal(
            user_id=user.id,
            role=user.role,
            partner_id=principal.partner_id,
            partner_ids=frozenset(user.partner_ids),
            name=user.name,
            language=user.locale,
        )

    async def _session_and_user(self, session_id: str, user_id: str) -> tuple[Session | None, User | None]:
        """From this replica's memory while it is current (service_layer.access), else from the store."""
        access = self._access
        current = access.current
        session = access.session(session_id) if current else None
        user = access.user(user_id) if current else None
        if session is not None and user is not None:
            return session, user
        epoch = access.epoch
        # The missing look-ups together, not one after the other; only what was read is kept.
        read_session, read_user = await asyncio.gather(
            _unless_known(session, self._sessions.get, session_id), _unless_known(user, self._users.get, user_id)
        )
        access.keep(epoch=epoch, session=read_session, user=read_user)
        return session or read_session, user or read_user

    async def profile(self, user_id: str) -> User:
        """From this replica's memory while it is current, like the per-call check: the services'
        texts follow the profile's language on every call that names none."""
        access = self._access
        user = access.user(user_id) if access.current else None
        if user is None:
            epoch = access.epoch
            user = await self._users.get(user_id)
            access.keep(epoch=epoch, user=user)
        return active(user)

    async def partners(self, principal: Principal) -> list[PartnerChoice]:
        found = await self._partners.names(tuple(sorted(principal.partner_ids)))
        return [PartnerChoice(p.id, p.name, acting=p.id == principal.partner_id) for p in found]

    # ------------------------------------------------------------------ composed screens

    async def instance_view(self, token: str, instance_id: str, language: str | None = None) -> View:
        """Instance + its licenses + the company thread's unread count + its terminals' last activity.

        Two rounds of calls, one store query each: the instance with its first licenses (one call,
        one read of the instance); then, together, the company's thread and the terminals of up to
        `TERMINALS_PER_VIEW` of those licenses (one call for them all)."""
        started = time.monotonic()
        overview = await self._backends.get_json(
            "instances",
            f"/v1/instances/{instance_id}/overview",
            token=token,
            language=language,
            params={"license_limit": LICENSES_PER_VIEW},
        )
        deadline = self._optional_deadline(time.monotonic() - started)
        instance, page = overview["instance"], overview["licenses"]
        view = View(parts={"instance": instance, "licenses": page, "thread": None, "terminals": None})
        serials = list(dict.fromkeys(item["serial"] for item in page.get("items", []) if item.get("serial")))[
            :TERMINALS_PER_VIEW
        ]

        async def terminals() -> None:
            view.parts["terminals"] = await self._terminals(view, token, serials, language, deadline)

        async def thread() -> None:
            found = await self._optional(
                view,
                "thread",
                "support",
                self._backends.get_json(
                    "support", f"/v1/threads/thr-{instance['company_id']}", token=token, language=language
                ),
                missing_is_none=True,
                deadline=deadline,
            )
            view.parts["thread"] = _thread_header(found) if found else None

        await asyncio.gather(terminals(), thread())
        return view

    async def thread_view(self, token: str, thread_id: str, language: str | None = None) -> View:
        """Thread header (R-12, R-14): the thread + its company + the company's instances with their licenses."""
        thread = await self._backends.get_json("support", f"/v1/threads/{thread_id}", token=token, language=language)
        view = View(parts={"thread": thread, "company": None, "instances": None})
        company_id = thread["company_id"]
        company, instances = await asyncio.gather(
            self._optional(
                view,
                "company",
                "instances",
                self._backends.get_json("instances", f"/v1/companies/{company_id}", token=token, language=language),
            ),
            self._optional(
                view,
                "instances",
                "instances",
                self._backends.get_json(
                    "instances",
                    "/v1/instances",
                    token=token,
                    language=language,
                    params={"company_id": company_id, "limit": INSTANCES_PER_THREAD_VIEW},
                ),
            ),
        )
        view.parts["company"] = company
        view.parts["instances"] = instances
        return view

    # ------------------------------------------------------------------ live notifications

    async def notification_stream(
        self, partner_ids: frozenset[str], last_event_id: str | None, *, keepalive_seconds: float, until: datetime
    ) -> AsyncIterator[Notification | None]:
        """What the client missed since `last_event_id`, then live notifications; None = keep-alive.

        Ends at `until` (the access token's expiry): the client reconnects with a fresh token.
        """
        return self._stream(partner_ids, last_event_id, keepalive_seconds=keepalive_seconds, until=until)

    async def _stream(
        self, partner_ids: frozenset[str], last_event_id: str | None, *, keepalive_seconds: float, until: datetime
    ) -> AsyncIterator[Notification | None]:
        async with self._live.listen(partner_ids) as listener:
            sent: set[str] = set()
            resume = parse_stream_id(last_event_id) if last_event_id else None
            if resume is not None:
                seq, seen_id = resume
                sent.add(seen_id)
                for missed in await self._notification_log.since(tuple(sorted(partner_ids)), seq, REPLAY_LIMIT):
                    if missed.id not in sent:
                        sent.add(missed.id)
                        yield missed
            while not listener.overflowed:
                remaining = (until - self._clock()).total_seconds()
                if remaining <= 0:
                    return
                try:
                    notification = await asyncio.wait_for(listener.queue.get(), min(keepalive_seconds, remaining))
                except TimeoutError:
                    yield None
                    continue
                if notification.id in sent:
                    continue
                sent.add(notification.id)
                if len(sent) > 2 * REPLAY_LIMIT:
                    sent.clear()
                yield notification

    async def vapid_public_key(self) -> str:
        """The key a browser passes as `applicationServerKey` to subscribe."""
        return self._vapid_public_key

    # ------------------------------------------------------------------ audit (staff)

    async def audit_search(
        self,
        principal: Principal,
        *,
        user_id: str | None = None,
        action: str | None = None,
        partner_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[AuditRecord]:
        """Within the caller's partners, or the one named (it must be theirs)."""
        since, until = _utc(since, "from"), _utc(until, "to")
        if since and until and since >= until:
            raise InvalidInput([field_error("from", "after_to", "after to")], detail="`from` must be before `to`.")
        scope = tuple(sorted(principal.partner_ids))
        if partner_id is not None:
            if partner_id not in principal.partner_ids:
                raise not_associated(partner_id)
            scope = (partner_id,)
        return await self._audit.search(
            AuditQuery(
                partner_ids=scope, user_id=user_id, action=action, since=since, until=until, limit=limit, cursor=cursor
            )
        )

    # ------------------------------------------------------------------ the hardware list

    async def hardware_list(
        self,
        *,
        maker: str | None = None,
        model: str | None = None,
        os: str | None = None,
        q: str | None = None,
        features: Sequence[str] = (),
        sort: str = "maker",
    ) -> HardwareSelection:
        compatibility = self._catalogue.compatibility
        query = _hardware_query(maker, model, os, q, features, sort)
        return HardwareSelection(compatibility, list(compatibility.select(query)))

    async def hardware_pdf(
        self,
        *,
        language: Literal["en", "es"],
        maker: str | None = None,
        model: str | None = None,
        os: str | None = None,
        q: str | None = None,
        features: Sequence[str] = (),
        sort: str = "maker",
    ) -> bytes:
        """The same list and filters, as a document (rendered off the event loop)."""
        query = _hardware_query(maker, model, os, q, features, sort)
        return await asyncio.to_thread(self._catalogue.pdf, query, language=language)

    # ------------------------------------------------------------------ helpers

    def _optional_deadline(self, required_took: float) -> float:
        """How long the optional parts may take: the configured deadline, or longer when the required
        part itself was slow (a busy machine slows every call alike: its optional parts are not
        dropped for that), at most `OPTIONAL_DEADLINE_CAP` times the configured one (a service
        that hangs still ends up flagged)."""
        stretched = OPTIONAL_DEADLINE_SLACK * required_took
        return min(max(self._optional_timeout, stretched), OPTIONAL_DEADLINE_CAP * self._optional_timeout)

    async def _terminals(
        self, view: View, token: str, serials: list[str], language: str | None, deadline: float | None = None
    ) -> list[dict[str, Any]] | None:
        """The terminals' latest states in the order of `serials` (one call, one store query); an
        unknown serial is left out."""
        if not serials:
            return []
        page = await self._optional(
            view,
            "terminals",
            "activity",
            self._backends.get_json(
                "activity",
                "/v1/activity/terminals",
                token=token,
                language=language,
                params={"serial": serials, "limit": len(serials)},
            ),
            deadline=deadline,
        )
        if page is None:
            return None
        found = {item["serial"]: item for item in page.get("items", [])}
        return [found[serial] for serial in serials if serial in found]

    async def _optional(
        self,
        view: View,
        part: str,
        service: str,
        call: Awaitable[T],
        *,
        missing_is_none: bool = False,
        deadline: float | None = None,
    ) -> T | None:
        """The part's value, or None with the part flagged when its service fails or is late
        (after `deadline` seconds, else the configured deadline)."""
        try:
            return await asyncio.wait_for(call, deadline or self._optional_timeout)
        except BackendRefused as refused:
            if refused.status == 404 and missing_is_none:
                return None
            view.degraded.append(Degraded(part, service, f"answered {refused.status}"))
        except (BackendUnavailable, TimeoutError) as failure:
            view.degraded.append(Degraded(part, service, _reason(failure)))
        return None


async def _unless_known(known: T | None, read: Callable[[str], Awaitable[T | None]], key: str) -> T | None:
    """The store's answer, or None without a read when `known` is there already."""
    return None if known is not None else await read(key)


def _reason(failure: BaseException) -> str:
    if isinstance(failure, TimeoutError):
        return "timed out"
    if isinstance(failure, BackendUnavailable):
        return failure.reason
    if isinstance(failure, BackendRefused):
        return f"answered {failure.status}"
    return type(failure).__name__


def _thread_header(thread: Mapping[str, Any]) -> dict[str, Any]:
    return {key: thread.get(key) for key in ("id", "company_name", "unread", "message_count", "last_message")}


def _utc(value: datetime | None, field: str) -> datetime | None:
    """The instant in UTC, as the store compares it; with its offset, a time at either end of the
    calendar (`0001-01-01T00:00+23:59`) lies outside it: a 422 naming the field, not an overflow."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        message = "must lie between the years 1 and 9999 in UTC"
        error = field_error(field, "years_1_9999", message, where="query")
        raise InvalidInput([error], detail=f"`{field}` {message}.") from exc


def _hardware_query(
    maker: str | None, model: str | None, os: str | None, q: str | None, features: Sequence[str], sort: str
) -> HardwareQuery:
    try:
        return HardwareQuery.parse(maker=maker, model=model, os=os, q=q, features=features, sort=sort)
    except InvalidFilter as exc:
        error = field_error(exc.field, exc.code, str(exc), where="query", params=exc.params)
        raise InvalidInput([error], detail=str(exc)) from exc


QUERY_HANDLERS: HandlerTable = {
    "authenticate": GatewayQueries.authenticate,
    "profile": GatewayQueries.profile,
    "partners": GatewayQueries.partners,
    "instance_view": GatewayQueries.instance_view,
    "thread_view": GatewayQueries.thread_view,
    "notification_stream": GatewayQueries.notification_stream,
    "vapid_public_key": GatewayQueries.vapid_public_key,
    "audit_search": GatewayQueries.audit_search,
    "hardware_list": GatewayQueries.hardware_list,
    "hardware_pdf": GatewayQueries.hardware_pdf,
    # Webhooks (#19)
    "webhook_event_types": WebhookQueries.webhook_event_types,
    "webhooks": WebhookQueries.webhooks,
    "webhook": WebhookQueries.webhook,
    "webhook_deliveries": WebhookQueries.webhook_deliveries,
    "webhook_delivery": WebhookQueries.webhook_delivery,
}
