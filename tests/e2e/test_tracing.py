"""One trace from a front-end call to the consumers (ARCHITECTURE §5, issue #9): the gateway's
request, the instances service's request, the outbox's send to Kafka, and each consuming
service's processing, all in one trace, parent to child."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from servicekit.testing import eventually

from .conftest import add_user, running_stack
from .test_gateway_platform import COMPANY

pytestmark = pytest.mark.e2e


def chain(spans: Sequence[ReadableSpan], leaf: ReadableSpan) -> list[ReadableSpan]:
    """The leaf and its ancestors, root last."""
    by_id = {span.context.span_id: span for span in spans}
    found = [leaf]
    while found[-1].parent is not None and found[-1].parent.span_id in by_id:
        found.append(by_id[found[-1].parent.span_id])
    return found


def service_of(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


async def test_one_trace_from_the_gateway_through_kafka_to_the_consumers(
    topic_prefix: str, key_pair: tuple[str, str]
) -> None:
    exporter = InMemorySpanExporter()
    async with running_stack(topic_prefix, key_pair, spans=SimpleSpanProcessor(exporter)) as stack:
        partner = f"ptn-{uuid.uuid4().hex[:8]}"
        token = await stack.token(await add_user(stack, f"usr-{uuid.uuid4().hex[:8]}", "partner", (partner,)))
        exporter.clear()
        async with stack.client(token) as api:
            created = await api.post(
                "/api/v1/companies", json={**COMPANY, "tax_id": f"B{uuid.uuid4().int % 10**8:08d}"}
            )
            assert created.status_code == 201, created.text

        def consumed_by(service: str) -> ReadableSpan | None:
            """The service's consumer span of the event, once it and its links are exported."""
            spans = exporter.get_finished_spans()
            for span in spans:
                ours = span.kind == SpanKind.CONSUMER and service_of(span) == service and "company.created" in span.name
                if ours and any(s.links for s in chain(spans, span)):
                    return span
            return None

        async def support_consumed() -> ReadableSpan | None:
            return consumed_by("support")

        consumer = await eventually(support_consumed)
        spans = exporter.get_finished_spans()
        by_id = {span.context.span_id: span for span in spans}
        # A batch consumer's span links to each message's producer span (OTel messaging conventions:
        # a batch has many parents, so they are links); the producer span is in the request's trace.
        linked = [by_id[link.context.span_id] for span in chain(spans, consumer) for link in span.links]
        assert linked, "the consumer's span links to the message's producer span"
        path = chain(spans, linked[0])
        services = [service_of(span) for span in reversed(path)]
        kinds = [span.kind for span in reversed(path)]
        assert len({span.context.trace_id for span in path}) == 1
        assert (services[0], kinds[0]) == ("gateway", SpanKind.SERVER), services
        assert services[1:] == ["instances"] * (len(services) - 1), "the service's request, then its outbox send"
        assert any(s.kind == SpanKind.PRODUCER and s.name == "company.created send" for s in path), [
            s.name for s in path
        ]
        assert path[0].context.trace_id == linked[0].context.trace_id
        request_trace = path[-1].context.trace_id
        for service in ("support", "reports"):  # every consumer of the topic links back to the same request

            async def consumed(service: str = service) -> ReadableSpan | None:
                return consumed_by(service)

            span = await eventually(consumed)
            links = [link for s in chain(exporter.get_finished_spans(), span) for link in s.links]
            assert {link.context.trace_id for link in links} == {request_trace}, service
