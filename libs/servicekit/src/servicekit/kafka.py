"""The Kafka broker every service uses (FastStream over aiokafka), configured once."""

from __future__ import annotations

import logging
from typing import Literal

from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from servicekit.settings import PlatformSettings

# aiokafka's defaults favour latency over safety (acks=1, no idempotence): a record the broker
# acknowledged must survive a leader change, and a retried send must not be written twice.
PRODUCER_ACKS = "all"
PRODUCER_LINGER_MS = 5
PRODUCER_COMPRESSION: Literal["lz4"] = "lz4"
# A produce batch holds up to this much per partition (aiokafka's default is 16 KiB): an ingest
# request's events go as one batch, and the compressed batch stays under the broker's 1 MiB.
PRODUCER_MAX_BATCH_BYTES = 1024 * 1024


def create_broker(
    platform: PlatformSettings,
    *,
    client_id: str,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> KafkaBroker:
    return KafkaBroker(
        platform.kafka_bootstrap_list,
        client_id=client_id,
        request_timeout_ms=platform.kafka_request_timeout_ms,
        acks=PRODUCER_ACKS,
        enable_idempotence=True,
        linger_ms=PRODUCER_LINGER_MS,
        compression_type=PRODUCER_COMPRESSION,
        max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        # Topics come from the catalogue; a typo must fail, not create a topic.
        allow_auto_create_topics=False,
        middlewares=[KafkaTelemetryMiddleware(tracer_provider=tracer_provider, meter_provider=meter_provider)],
        log_level=logging.DEBUG,
    )
