"""The gateway's collections: users, partners, sessions, login guards, audit, notifications, push
subscriptions, and the recent access changes every replica reads.

Lookups go by `_id` wherever a screen or a request path needs speed (the only lookup FerretDB 1.x
pushes down); the rest are small or staff-only queries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import EventEnvelope
from gateway.domain.model import Language, LoginGuard, Session, User
from gateway.domain.notifications import Notification
from gateway.service_layer.ports import AccessChange, AuditQuery, AuditRecord, Partner
from servicekit.mongo import Document, DocumentLocks, IndexSpec, find_page
from servicekit.outbox import with_outbox
from servicekit.pagination import Page, Sort

USERS = "users"
PARTNERS = "partners"
SESSIONS = "sessions"
LOGIN_GUARDS = "login_guards"
AUDIT = "gateway_audit"
NOTIFICATIONS = "notifications"
PUSH_SUBSCRIPTIONS = "push_subscriptions"
ACCESS_CHANGES = "access_changes"

INDEXES = [
    IndexSpec(USERS, [("email", 1)], unique=True, name="email_unique"),
    IndexSpec(SESSIONS, [("user_id", 1)], name="user"),
    IndexSpec(AUDIT, [("partner_id", 1), ("at", -1)], name="partner_at"),
    IndexSpec(NOTIFICATIONS, [("seq", 1)], name="seq"),
    IndexSpec(PUSH_SUBSCRIPTIONS, [("partner_id", 1)], name="partner"),
]


def _user(doc: Document) -> User:
    return User(
        id=doc["_id"],
        email=doc["email"],
        name=doc["name"],
        role=doc["role"],
        partner_ids=tuple(doc["partner_ids"]),
        password_hash=doc["password_hash"],
        language=Language(doc.get("language", "es")),
        phone=doc.get("phone"),
        active=doc.get("active", True),
        created_at=doc.get("created_at"),
        updated_at=doc.get("updated_at"),
    )


class MongoUsers:
    def __init__(self, db: AsyncDatabase[Document], locks: DocumentLocks) -> None:
        self._users = db[USERS]
        self._locks = locks

    async def get(self, user_id: str) -> User | None:
        doc = await self._users.find_one({"_id": user_id})
        return _user(doc) if doc else None

    async def by_email(self, email: str) -> User | None:
        doc = await self._users.find_one({"email": email.strip().lower()})
        return _user(doc) if doc else None

    async def add(self, user: User) -> bool:
        doc = asdict(user)
        doc["_id"] = doc.pop("id")
        doc["partner_ids"] = list(user.partner_ids)
        doc["language"] = user.language.value
        try:
            await self._users.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def update(self, user_id: str, changes: Mapping[str, Any]) -> User | None:
        async with self._locks.lock(USERS, user_id):
            doc = await self._users.find_one_and_update(
                {"_id": user_id}, {"$set": dict(changes)}, return_document=ReturnDocument.AFTER
            )
        return _user(doc) if doc else None


class MongoPartners:
    def __init__(self, db: AsyncDatabase[Document], on_write: Callable[[str, str], None] | None = None) -> None:
        self._partners = db[PARTNERS]
        self._on_write = on_write

    async def names(self, partner_ids: tuple[str, ...]) -> list[Partner]:
        found = {d["_id"]: d["name"] async for d in self._partners.find({"_id": {"$in": list(partner_ids)}})}
        return [Partner(pid, found.get(pid, pid)) for pid in partner_ids]

    async def put(self, partner: Partner, pending: list[EventEnvelope[Any]]) -> None:
        update = with_outbox({"$set": {"name": partner.name}}, pending)
        await self._partners.update_one({"_id": partner.id}, update, upsert=True)
        if self._on_write is not None:
            self._on_write(PARTNERS, partner.id)  # wakes the outbox relay (the seeding has none: the scan finds it)


def _session(doc: Document) -> Session:
    return Session(
        id=doc["_id"],
        user_id=doc["user_id"],
        partner_id=doc["partner_id"],
        refresh_hash=doc["refresh_hash"],
        expires_at=doc["expires_at"],
        created_at=doc["created_at"],
        spent_hashes=tuple(doc.get("spent_hashes", ())),
        revoked_at=doc.get("revoked_at"),
        revoked_reason=doc.get("revoked_reason"),
    )


class MongoSessions:
    def __init__(self, db: AsyncDatabase[Document], locks: DocumentLocks) -> None:
        self._sessions = db[SESSIONS]
        self._locks = locks

    async def add(self, session: Session) -> None:
        doc = asdict(session)
        doc["_id"] = doc.pop("id")
        doc["spent_hashes"] = list(session.spent_hashes)
        await self._sessions.insert_one(doc)

    async def get(self, session_id: str) -> Session | None:
        doc = await self._sessions.find_one({"_id": session_id})
        return _session(doc) if doc else None

    async def rotate(self, session: Session, *, expected_hash: str) -> bool:
        async with self._locks.lock(SESSIONS, session.id):
            result = await self._sessions.update_one(
                {"_id": session.id, "refresh_hash": expected_hash, "revoked_at": None},
                {
                    "$set": {
                        "refresh_hash": session.refresh_hash,
                        "spent_hashes": list(session.spent_hashes),
                        "partner_id": session.partner_id,
                    }
                },
            )
        return result.modified_count == 1

    async def revoke(self, session_id: str, *, reason: str, at: datetime) -> None:
        async with self._locks.lock(SESSIONS, session_id):
            await self._sessions.update_one(
                {"_id": session_id, "revoked_at": None}, {"$set": {"revoked_at": at, "revoked_reason": reason}}
            )

    async def revoke_user(self, user_id: str, *, reason: str, at: datetime, keep: str | None = None) -> int:
        match: dict[str, Any] = {"user_id": user_id, "revoked_at": None}
        if keep:
            match["_id"] = {"$ne": keep}
        result = await self._sessions.update_many(match, {"$set": {"revoked_at": at, "revoked_reason": reason}})
        return result.modified_count


class MongoLoginGuards:
    def __init__(self, db: AsyncDatabase[Document], locks: DocumentLocks) -> None:
        self._guards = db[LOGIN_GUARDS]
        self._locks = locks

    async def get(self, key: str) -> LoginGuard:
        doc = await self._guards.find_one({"_id": key})
        return LoginGuard(doc.get("failures", 0), doc.get("locked_until")) if doc else LoginGuard()

    async def put(self, key: str, guard: LoginGuard) -> None:
        async with self._locks.lock(LOGIN_GUARDS, key):
            await self._guards.replace_one(
                {"_id": key}, {"failures": guard.failures, "locked_until": guard.locked_until}, upsert=True
            )

    async def clear(self, key: str) -> None:
        await self._guards.delete_one({"_id": key})


AUDIT_SORT = Sort("at", descending=True)


class MongoAuditLog:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._audit = db[AUDIT]

    async def record(self, entry: AuditRecord) -> None:
        await self._audit.insert_one(asdict(entry))

    async def search(self, query: AuditQuery) -> Page[AuditRecord]:
        match: dict[str, Any] = {"partner_id": {"$in": list(query.partner_ids)}}
        if query.user_id:
            match["user_id"] = query.user_id
        if query.action:
            match["action"] = query.action
        window: dict[str, datetime] = {}
        if query.since:
            window["$gte"] = query.since
        if query.until:
            window["$lt"] = query.until
        if window:
            match["at"] = window

        def convert(doc: Document) -> AuditRecord:
            return AuditRecord(**{k: v for k, v in doc.items() if k != "_id"})

        return await find_page(self._audit, match, AUDIT_SORT, query.limit, query.cursor, convert)


def _notification(doc: Document) -> Notification:
    return Notification(
        id=doc["_id"],
        seq=doc["seq"],
        type=doc["type"],
        partner_id=doc["partner_id"],
        subject=doc.get("subject"),
        time=doc["time"],
        data=doc.get("data", {}),
    )


class MongoNotificationLog:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._log = db[NOTIFICATIONS]

    async def add(self, notification: Notification) -> tuple[Notification, bool]:
        doc = asdict(notification)
        doc["_id"] = doc.pop("id")
        try:
            await self._log.insert_one(doc)
        except DuplicateKeyError:
            existing = await self._log.find_one({"_id": notification.id})
            return (_notification(existing) if existing else notification), False
        return notification, True

    async def since(self, partner_ids: tuple[str, ...], seq: int, limit: int) -> list[Notification]:
        cursor = self._log.find({"partner_id": {"$in": list(partner_ids)}, "seq": {"$gt": seq}}).sort("seq", 1)
        return [_notification(doc) async for doc in cursor.limit(limit)]

    async def forget_before(self, moment: datetime) -> int:
        result = await self._log.delete_many({"time": {"$lt": moment}})
        return result.deleted_count


class MongoAccessChanges:
    """A minute of changes at most (pruned), so reading it whole is one small query, not an index's job."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._log = db[ACCESS_CHANGES]

    async def record(self, change: AccessChange) -> None:
        doc = asdict(change)
        doc["_id"] = doc.pop("id")
        await self._log.insert_one(doc)

    async def recent(self) -> list[AccessChange]:
        return [
            AccessChange(
                id=doc["_id"],
                kind=doc["kind"],
                user_id=doc.get("user_id"),
                session_id=doc.get("session_id"),
                at=doc["at"],
            )
            async for doc in self._log.find({})
        ]

    async def forget_before(self, moment: datetime) -> int:
        result = await self._log.delete_many({"at": {"$lt": moment}})
        return result.deleted_count
