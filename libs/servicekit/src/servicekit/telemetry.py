"""OpenTelemetry traces and metrics for one service.

Providers are created per service and passed explicitly (not installed globally), so that
several services can run in one test process. OTLP export is switched on only when the
standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or its per-signal variant) is set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


@dataclass(frozen=True)
class Telemetry:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def _otlp_enabled(signal: str) -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    )


def setup_telemetry(
    service_name: str,
    *,
    span_processors: list[SpanProcessor] | None = None,
    metric_readers: list[MetricReader] | None = None,
) -> Telemetry:
    resource = Resource.create({"service.name": service_name, "service.namespace": "partnerapp"})
    tracer_provider = TracerProvider(resource=resource)
    processors = list(span_processors or [])
    readers = list(metric_readers or [])
    if _otlp_enabled("TRACES"):
        processors.append(BatchSpanProcessor(OTLPSpanExporter()))
    if _otlp_enabled("METRICS"):
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    for processor in processors:
        tracer_provider.add_span_processor(processor)
    return Telemetry(tracer_provider, MeterProvider(resource=resource, metric_readers=readers))
