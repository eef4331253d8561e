"""Webhooks' pure rules (#19): Standard Webhooks signing checked against the specification's
published test vector and an independent implementation (`standardwebhooks` from PyPI), the
address classes a production delivery refuses, URL and event type checks, the retry schedule
with `Retry-After`, the per-aggregate order, and the handler tables."""

from __future__ import annotations

import base64
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from gateway.adapters.webpush import message_payload
from gateway.domain.notifications import NOTIFIED_TOPICS, Notification
from gateway.domain.webhooks import (
    DELIVERED_TOPICS,
    EVENT_TYPES,
    Delivery,
    RetrySchedule,
    SendResult,
    SigningSecret,
    Subscription,
    check_event_types,
    check_url,
    delivery_id,
    due_in_order,
    forbidden_address,
    new_secret,
    parse_retry_after,
    signature,
    signature_headers,
)
from gateway.service_layer.commands import COMMAND_HANDLERS
from gateway.service_layer.event_handlers import WEBHOOK_EVENT_HANDLERS, WebhookEventHandlers
from gateway.service_layer.queries import QUERY_HANDLERS
from gateway.service_layer.webhooks import WebhookCommands, WebhookQueries
from servicekit.errors import InvalidInput
from servicekit.handlers import InBatches, missing_from_table

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

# The test vector published with the Standard Webhooks specification (and its reference libraries).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signing_gives_the_specifications_test_vector() -> None:
    assert signature(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_an_independent_implementation_verifies_what_we_sign_and_refuses_a_changed_body() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    body = b'{"id":"e1","type":"license.revoked","data":{"x":"\xc3\xb1"}}'
    now = int(datetime.now(UTC).timestamp())
    headers = signature_headers([secret], "e1", now, body)
    assert Webhook(secret).verify(body, headers)["type"] == "license.revoked"
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(body.replace(b"revoked", b"added!!"), headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(body, headers)


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = new_secret(), new_secret()
    now = int(datetime.now(UTC).timestamp())
    headers = signature_headers([new, old], "e2", now, b"{}")
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(b"{}", headers)
    Webhook(new).verify(b"{}", headers)


def test_a_rotation_with_overlap_keeps_the_previous_secret_signing_until_it_expires() -> None:
    hook = _subscription()
    rotated = hook.rotated("sealed-new", "whsec_new…", NOW, timedelta(hours=2))
    assert [s.sealed for s in rotated.signing_secrets(NOW)] == ["sealed-new", "sealed-old"]
    assert [s.sealed for s in rotated.signing_secrets(NOW + timedelta(hours=3))] == ["sealed-new"]
    assert rotated.previous_secret_expires_at == NOW + timedelta(hours=2)
    cut = rotated.rotated("sealed-newest", "whsec_nw…", NOW, timedelta(0))
    assert [s.sealed for s in cut.secrets] == ["sealed-newest"] and cut.previous_secret_expires_at is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address checked, nothing bound
        ("::", "unspecified"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("fe80::1%eth0", "link-local"),
    ],
)
def test_a_delivery_never_goes_to_a_non_public_address(address: str, reason: str) -> None:
    assert forbidden_address(address) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_address(address) is None


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example.com/in", "url_https"),
        ("ftp://hooks.example.com/in", "url_https"),
        ("https://", "url_https"),
        ("https://u:p@hooks.example.com/", "url_credentials"),
        ("https://hooks.example.com/a b", "url_spaces"),
        ("https://hooks.example.com:99999/", "url_invalid"),
        ("https://127.0.0.1/in", "url_private"),
        ("https://[::1]:8443/in", "url_private"),
        ("https://localhost/in", "url_private"),
        ("https://api.localhost/in", "url_private"),
        ("https://10.0.0.5/in", "url_private"),
        ("https://" + "a" * 2000 + ".com/", "at_most_characters"),
    ],
)
def test_a_production_url_must_be_public_https(url: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_url(url, allow_private=False)
    assert [(e["field"], e["code"]) for e in refused.value.errors] == [("url", code)]


def test_development_mode_allows_http_to_loopback() -> None:
    assert check_url("http://127.0.0.1:8080/in", allow_private=True) == "http://127.0.0.1:8080/in"
    assert check_url("https://hooks.example.com/in", allow_private=False) == "https://hooks.example.com/in"


def test_event_types_come_from_the_catalogue() -> None:
    assert check_event_types(["license.revoked", "license.revoked", "webhook.test"]) == (
        "license.revoked",
        "webhook.test",
    )
    with pytest.raises(InvalidInput) as refused:
        check_event_types(["license.exploded"])
    assert refused.value.errors[0]["field"] == "event_types"
    assert refused.value.errors[0]["params"] == {"value": "license.exploded"}
    assert all(set(texts) == {"es", "en"} for texts in EVENT_TYPES.values())
    assert set(DELIVERED_TOPICS) == set(NOTIFIED_TOPICS), "every notified topic can be subscribed"


def test_the_retry_schedule_spans_at_least_a_day_and_honours_retry_after() -> None:
    schedule = RetrySchedule(rng=random.Random(7))  # noqa: S311 - a seeded jitter
    for _ in range(50):
        waits = [schedule.wait_after(n) for n in range(1, schedule.max_attempts)]
        assert all(w is not None for w in waits)
        total = sum(w for w in waits if w is not None)
        assert total >= 24 * 3600
    assert schedule.wait_after(schedule.max_attempts) is None, "the last attempt is the last"
    first = schedule.wait_after(1)
    assert first is not None and 15 <= first <= 30
    assert schedule.wait_after(1, retry_after=600) == 600
    assert schedule.wait_after(1, retry_after=10**9) == schedule.max_retry_after


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after("Wed, 02 Dec 2026 12:05:00 GMT", NOW) == 300
    assert parse_retry_after("Wed, 02 Dec 2026 11:00:00 GMT", NOW) == 0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_an_attempt_moves_a_delivery_on_and_the_excerpt_is_bounded() -> None:
    schedule = RetrySchedule((10.0, 20.0), rng=random.Random(1))  # noqa: S311 - a seeded jitter
    delivery = _delivery("a", seq=1)
    once = delivery.after(SendResult(500, 12, "x" * 5000), NOW, schedule)
    assert once.outcome == "pending" and once.attempt_count == 1 and len(once.attempts[0].response_excerpt) == 1024
    assert once.next_attempt_at is not None and NOW + timedelta(seconds=5) <= once.next_attempt_at
    twice = once.after(SendResult(None, 3000, error="timeout"), NOW, schedule)
    spent = twice.after(SendResult(503, 5), NOW, schedule)
    assert (twice.outcome, spent.outcome, spent.next_attempt_at) == ("pending", "failed", None)
    replayed = spent.replayed(NOW)
    assert (replayed.outcome, replayed.attempt_count, replayed.series, len(replayed.attempts)) == ("pending", 0, 2, 3)
    assert replayed.event_id == delivery.event_id, "a replay keeps the webhook-id"
    assert delivery.after(SendResult(204, 5), NOW, schedule).outcome == "succeeded"


def test_one_event_for_one_subscription_is_one_delivery() -> None:
    assert delivery_id("whk_1", "e1") == delivery_id("whk_1", "e1")
    assert len({delivery_id("whk_1", "e1"), delivery_id("whk_2", "e1"), delivery_id("whk_1", "e2")}) == 3


def test_a_later_event_of_an_aggregate_never_overtakes_an_earlier_one() -> None:
    later = NOW + timedelta(minutes=5)
    pending = [
        _delivery("a2", seq=3, subject="inst-a"),
        _delivery("a1", seq=1, subject="inst-a", next_attempt_at=later),  # being retried
        _delivery("b1", seq=2, subject="inst-b"),
        _delivery("c1", seq=4, subject="inst-c", subscription="whk_busy"),
    ]
    lanes = due_in_order(pending, NOW, busy={"whk_busy"})
    assert {k: [d.id for d in v] for k, v in lanes.items()} == {"whk_1": ["b1"]}
    assert [d.id for d in due_in_order(pending, later, busy=set())["whk_1"]] == ["a1", "b1", "a2"]


def test_webhook_use_cases_are_in_the_tables() -> None:
    assert missing_from_table(COMMAND_HANDLERS, WebhookCommands) == []
    assert missing_from_table(QUERY_HANDLERS, WebhookQueries) == []
    assert missing_from_table(WEBHOOK_EVENT_HANDLERS, WebhookEventHandlers) == []
    assert sorted(WEBHOOK_EVENT_HANDLERS) == sorted(DELIVERED_TOPICS)
    assert all(isinstance(entry, InBatches) for entry in WEBHOOK_EVENT_HANDLERS.values())


def _subscription() -> Subscription:
    return Subscription(
        id="whk_1",
        partner_id="ptn-1",
        url="https://hooks.example.com/in",
        event_types=("license.revoked",),
        instance_id=None,
        description="",
        status="active",
        paused_reason=None,
        consecutive_failures=0,
        secret_hint="whsec_old…",
        secrets=(SigningSecret("sealed-old"),),
        created_at=NOW,
        updated_at=NOW,
        created_by="usr-1",
    )


def _delivery(
    name: str,
    *,
    seq: int,
    subject: str = "inst-a",
    subscription: str = "whk_1",
    next_attempt_at: datetime | None = NOW,
) -> Delivery:
    return Delivery(
        id=name,
        subscription_id=subscription,
        partner_id="ptn-1",
        event_id=f"evt-{name}",
        event_type="license.revoked",
        subject=subject,
        body="{}",
        seq=seq,
        outcome="pending",
        attempt_count=0,
        next_attempt_at=next_attempt_at,
        created_at=NOW,
    )


def test_a_subscription_wants_its_types_of_its_instance_while_active() -> None:
    hook = _subscription()
    assert hook.wants("license.revoked", "inst-1") and not hook.wants("license.added", "inst-1")
    only = replace(hook, instance_id="inst-1")
    assert only.wants("license.revoked", "inst-1")
    assert not only.wants("license.revoked", "inst-2") and not only.wants("license.revoked", None)
    assert not replace(hook, status="paused").wants("license.revoked", "inst-1")
    assert not replace(hook, status="failing_paused").wants("license.revoked", "inst-1")
    assert hook.wants("license.revoked", "inst-1", hook.created_at)
    # An event from before the subscription (still waiting on Kafka when it was made) is not its.
    assert not hook.wants("license.revoked", "inst-1", hook.created_at - timedelta(microseconds=1))
    resumed = replace(hook, status="failing_paused", consecutive_failures=9).with_status("active", NOW)
    assert (resumed.status, resumed.consecutive_failures, resumed.paused_reason) == ("active", 0, None)


def test_a_pause_is_pushed_in_the_readers_language_with_the_page_to_open() -> None:
    paused = Notification(
        id="n1",
        seq=1,
        type="webhook.paused",
        partner_id="ptn-1",
        subject="whk_1",
        time=NOW,
        data={"subscription_id": "whk_1", "code": "webhook_delivery_failed"},
    )
    english, spanish = message_payload(paused, "en"), message_payload(paused, "es")
    assert english is not None and spanish is not None
    assert (english["title"], spanish["title"]) == ("Webhook paused", "Webhook en pausa")
    assert english["url"] == "/profile/integrations" and english["subscription_id"] == "whk_1"
    assert english["body"] != spanish["body"]
