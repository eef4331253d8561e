"""partnerapp's shared contracts: the event envelope, payload models and the topic catalogue.

Services share only this package; none imports another service.
"""

from contracts.codec import MalformedEvent, decode_envelope
from contracts.envelope import (
    CONTENT_TYPE,
    ENVELOPE_FORM,
    KAFKA_HEADERS,
    EventEnvelope,
    envelope_for,
    new_event_id,
    utc_now,
)
from contracts.topics import (
    CATALOGUE,
    DEADLETTER_HEADERS,
    DEADLETTER_TOPIC,
    TopicSpec,
    all_topic_partitions,
    topic,
    topic_for_payload,
)

__all__ = [
    "CATALOGUE",
    "CONTENT_TYPE",
    "DEADLETTER_HEADERS",
    "DEADLETTER_TOPIC",
    "ENVELOPE_FORM",
    "KAFKA_HEADERS",
    "EventEnvelope",
    "MalformedEvent",
    "TopicSpec",
    "all_topic_partitions",
    "decode_envelope",
    "envelope_for",
    "new_event_id",
    "topic",
    "topic_for_payload",
    "utc_now",
]
