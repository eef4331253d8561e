"""Web Push without I/O: the VAPID key, the payload, and the sender's choices (who is pushed,
what a push service's answer means) with a fake store and a fake transport."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gateway.adapters.webpush import (
    PushRequest,
    PushSubscription,
    VapidKeys,
    WebPushSender,
    b64url,
    b64url_decode,
    check_auth_secret,
    check_p256dh,
    message_payload,
)
from gateway.domain.notifications import Notification
from gateway.service_layer.ports import PushSender

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def p256dh() -> str:
    point = ec.generate_private_key(ec.SECP256R1()).public_key()
    return b64url(point.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def subscription(name: str, user: str, partner: str = "ptn-a") -> PushSubscription:
    return PushSubscription(
        endpoint=f"https://fcm.googleapis.com/fcm/send/{name}",
        p256dh=p256dh(),
        auth=b64url(b"0123456789abcdef"),
        user_id=user,
        partner_id=partner,
        created_at=NOW,
        updated_at=NOW,
    )


def posted(author: str = "usr-ana", *, kind: str = "message.posted", side: str = "partner") -> Notification:
    data = {"thread_id": "thr-1", "author_id": author, "author_side": side, "preview": "Hola"}
    return Notification(id="evt-1", seq=1, type=kind, partner_id="ptn-a", subject="thr-1", time=NOW, data=data)


@dataclass
class FakeStore:
    subscriptions: list[PushSubscription] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    failing: bool = False

    async def for_partner(self, partner_id: str) -> list[PushSubscription]:
        if self.failing:
            raise ConnectionError("store down")
        return [s for s in self.subscriptions if s.partner_id == partner_id]

    async def forget(self, endpoint: str) -> bool:
        self.forgotten.append(endpoint)
        return True


@dataclass
class FakeTransport:
    statuses: dict[str, int | Exception] = field(default_factory=dict)
    requests: list[PushRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: PushRequest) -> int:
        with self.lock:
            self.requests.append(request)
        answer = self.statuses.get(request.subscription["endpoint"].rsplit("/", 1)[1], 201)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def names(self) -> list[str]:
        return sorted(r.subscription["endpoint"].rsplit("/", 1)[1] for r in self.requests)


def sender(store: FakeStore, transport: FakeTransport, **options: object) -> WebPushSender:
    return WebPushSender(store, VapidKeys.generate(), transport=transport, **options)  # type: ignore[arg-type]


# --- keys --------------------------------------------------------------------------------------


def test_the_public_key_is_the_uncompressed_point_in_base64url() -> None:
    keys = VapidKeys.generate()

    raw = b64url_decode(keys.public_key)

    assert len(raw) == 65
    assert raw[0] == 0x04
    assert "=" not in keys.public_key
    expected = keys.private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert raw == expected


@pytest.mark.parametrize("fmt", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL])
def test_the_key_loads_from_a_pem_file(tmp_path: Path, fmt: serialization.PrivateFormat) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "vapid.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()))

    loaded = VapidKeys.load(path)

    assert loaded.private_key.private_numbers() == key.private_numbers()
    assert VapidKeys.from_pem(loaded.private_pem()).public_key == loaded.public_key


def test_a_key_that_is_not_p256_is_refused(tmp_path: Path) -> None:
    wrong_curve = ec.generate_private_key(ec.SECP384R1())
    not_ec = ed25519.Ed25519PrivateKey.generate()
    for name, key in (("p384.pem", wrong_curve), ("ed25519.pem", not_ec)):
        path = tmp_path / name
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.write_bytes(pem)
        with pytest.raises(ValueError, match="P-256"):
            VapidKeys.load(path)
    with pytest.raises(ValueError, match="cannot load"):
        VapidKeys.load(tmp_path / "missing.pem")


def test_without_a_key_file_an_ephemeral_key_is_made_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.adapters.webpush"):
        first, second = VapidKeys.load(None), VapidKeys.load(None)

    assert first.public_key != second.public_key
    assert "ephemeral" in caplog.text
    assert "restart" in caplog.text


# --- the browser's keys ------------------------------------------------------------------------


def test_the_browsers_keys_are_checked_and_unpadded() -> None:
    key = p256dh()
    assert check_p256dh(key + "=") == key
    assert check_auth_secret(b64url(bytes(16)) + "==") == b64url(bytes(16))
    for bad in ("", "AAAA", "B" + "A" * 86, "not base64!", b64url(b"\x04" + bytes(64))):
        with pytest.raises(ValueError, match=r"base64url|P-256"):
            check_p256dh(bad)
    for bad in ("", "short", b64url(bytes(32)), "++++++++++++++++++++++"):
        with pytest.raises(ValueError, match="base64url"):
            check_auth_secret(bad)


# --- payload -----------------------------------------------------------------------------------


def test_the_payload_opens_the_thread() -> None:
    assert message_payload(posted(side="support"), "en") == {
        "type": "message.posted",
        "title": "Support replied",
        "body": "Hola",
        "url": "/support/threads/thr-1",
        "thread_id": "thr-1",
        "notification_id": "evt-1",
    }
    assert message_payload(posted(kind="instance.updated")) is None


def note_posted() -> Notification:
    data = {
        "thread_id": "thr-1", "author_id": "system", "author_side": "system",
        "preview": "Se ha revocado la licencia lic-1 (PIN 4821). Motivo: Baja",
        "code": "license_revoked", "params": {"license_id": "lic-1", "pin": "4821", "reason": "Baja"},
    }  # fmt: skip
    return Notification(
        id="evt-2", seq=2, type="message.posted", partner_id="ptn-a", subject="thr-1", time=NOW, data=data
    )


def test_the_payload_reads_in_the_readers_language() -> None:
    assert message_payload(posted(side="support"))["title"] == "Soporte ha respondido"  # type: ignore[index]
    assert message_payload(posted(side="partner"), "es")["title"] == "Nuevo mensaje de soporte"  # type: ignore[index]
    assert message_payload(posted(side="partner"), "en")["title"] == "New support message"  # type: ignore[index]
    spanish, english = message_payload(note_posted(), "es"), message_payload(note_posted(), "en")
    assert spanish is not None and english is not None
    assert (spanish["title"], spanish["body"]) == (
        "Aviso en soporte",
        "Se ha revocado la licencia lic-1 (PIN 4821). Motivo: Baja",
    )
    assert (english["title"], english["body"]) == (
        "Support notice",
        "License lic-1 (PIN 4821) was revoked. Reason: Baja",
    )
    unknown = note_posted()
    unknown.data["code"] = "a_code_of_a_later_version"
    assert message_payload(unknown, "en")["body"] == unknown.data["preview"]  # type: ignore[index]


async def test_each_device_is_pushed_in_its_users_language() -> None:
    store = FakeStore(
        [subscription("bob-phone", "usr-bob"), subscription("eva-phone", "usr-eva"), subscription("zoe", "usr-zoe")]
    )
    transport = FakeTransport()

    async def language_of(user_id: str) -> Literal["es", "en"]:
        if user_id == "usr-zoe":
            raise ConnectionError("store down")
        return "en" if user_id == "usr-bob" else "es"

    assert await sender(store, transport, language_of=language_of).deliver(note_posted()) == 3

    bodies = {r.subscription["endpoint"].rsplit("/", 1)[1]: json.loads(r.data)["body"] for r in transport.requests}
    assert bodies == {
        "bob-phone": "License lic-1 (PIN 4821) was revoked. Reason: Baja",
        "eva-phone": "Se ha revocado la licencia lic-1 (PIN 4821). Motivo: Baja",
        "zoe": "Se ha revocado la licencia lic-1 (PIN 4821). Motivo: Baja",  # unknown: the default, Spanish
    }


# --- sending -----------------------------------------------------------------------------------


def test_the_sender_is_a_push_sender() -> None:
    push: PushSender = sender(FakeStore(), FakeTransport())
    assert push is not None


async def test_every_device_of_the_partner_but_the_authors_is_pushed() -> None:
    store = FakeStore(
        [
            subscription("ana-phone", "usr-ana"),
            subscription("bob-phone", "usr-bob"),
            subscription("bob-laptop", "usr-bob"),
            subscription("eva-phone", "usr-eva", partner="ptn-b"),
        ]
    )
    transport = FakeTransport()

    assert await sender(store, transport, ttl_seconds=600, urgency="normal").deliver(posted("usr-ana")) == 2

    assert transport.names() == ["bob-laptop", "bob-phone"]
    request = transport.requests[0]
    assert json.loads(request.data)["url"] == "/support/threads/thr-1"
    assert request.ttl_seconds == 600
    assert request.headers["Urgency"] == "normal"
    assert len(request.headers["Topic"]) <= 32


async def test_only_gone_answers_delete_the_subscription() -> None:
    store = FakeStore([subscription(name, f"usr-{name}") for name in ("gone", "missing", "busy", "down", "ok")])
    transport = FakeTransport({"gone": 410, "missing": 404, "busy": 429, "down": ConnectionError("refused")})

    assert await sender(store, transport).deliver(posted("usr-staff")) == 1

    assert sorted(e.rsplit("/", 1)[1] for e in store.forgotten) == ["gone", "missing"]


async def test_nothing_raises_to_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    push = sender(FakeStore(failing=True), FakeTransport())

    await push.notify_partner(posted())
    await push.drain()
    assert await push.deliver(posted()) == 0
    assert "web push of evt-1 failed" in caplog.text


async def test_notify_partner_schedules_and_returns_at_once() -> None:
    release = threading.Event()

    def slow(request: PushRequest) -> int:
        release.wait(5)
        return 201

    push = WebPushSender(FakeStore([subscription("bob", "usr-bob")]), VapidKeys.generate(), transport=slow)

    await asyncio.wait_for(push.notify_partner(posted()), 1)  # does not wait for the push service
    release.set()
    await push.drain()
    await push.close()


async def test_a_full_backlog_drops_pushes_rather_than_piling_up(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    transport_calls: list[str] = []

    def slow(request: PushRequest) -> int:
        transport_calls.append(request.subscription["endpoint"])
        release.wait(5)
        return 201

    push = WebPushSender(
        FakeStore([subscription("bob", "usr-bob")]), VapidKeys.generate(), transport=slow, max_pending=1
    )
    await push.notify_partner(posted())
    await push.notify_partner(posted())
    assert "backlog full" in caplog.text
    release.set()
    await push.drain()
    assert len(transport_calls) == 1


async def test_close_cancels_what_does_not_finish_in_time() -> None:
    release = threading.Event()

    def stuck(request: PushRequest) -> int:
        release.wait(5)
        return 201

    push = WebPushSender(
        FakeStore([subscription("bob", "usr-bob")]), VapidKeys.generate(), transport=stuck, timeout_seconds=30
    )
    await push.notify_partner(posted())
    await asyncio.sleep(0.05)
    await asyncio.wait_for(push.close(timeout_seconds=0.1), 2)
    release.set()
