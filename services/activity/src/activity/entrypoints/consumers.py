"""What the activity service takes from Kafka: telemetry in batches, and the license and session
events that belong in a terminal's timeline, and ingest keys."""

from __future__ import annotations

from activity.service_layer.handlers import ActivityService
from servicekit.consumer import EventConsumer


def register(consumer: EventConsumer, service: ActivityService) -> None:
    consumer.subscribe_batch("terminal.activity", service.record_telemetry)
    for topic_name in ("license.added", "license.released", "license.revoked"):
        consumer.subscribe(topic_name, service.record_license_event)
    consumer.subscribe("session.cleared", service.record_session_cleared)
    consumer.subscribe("instance.ingest_key_rotated", service.ingest_key_rotated)
