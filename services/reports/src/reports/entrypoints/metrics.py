"""The reports service's own Prometheus metrics, read at scrape time from the event handlers' stats."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from reports.service_layer.event_handlers import ProjectionStats


class _ProjectionCollector(Collector):
    def __init__(self, stats: ProjectionStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        operations = self._stats.operations
        yield CounterMetricFamily(
            "partnerapp_reports_operations_counted", "Telemetry events counted as operations", value=operations.counted
        )
        yield CounterMetricFamily(
            "partnerapp_reports_operations_redelivered",
            "Telemetry records delivered again by Kafka (offset already counted), skipped",
            value=operations.redelivered,
        )
        yield CounterMetricFamily(
            "partnerapp_reports_operations_resent",
            "Telemetry events re-sent with an id counted recently (a new offset), skipped",
            value=operations.resent,
        )


def track_projection(registry: CollectorRegistry, stats: ProjectionStats) -> None:
    registry.register(_ProjectionCollector(stats))
