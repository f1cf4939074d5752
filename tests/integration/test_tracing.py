"""Trace context crosses the runtime: the span applying an event is the child of the
publisher's span, and the events it causes carry the applying span onward."""

from __future__ import annotations

import time

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.contract.codec import encode
from shared.runtime import db as runtime_db
from shared.runtime.migrate import apply_migrations, runtime_migrations
from shared.runtime.processor import BatchProcessor
from shared.runtime.unit import Record
from tests.integration.events import purchase
from tests.integration.sample_app import SAMPLE_TABLES, SampleTopics, make_handler
from tests.integration.test_runtime import dead_letters

pytestmark = pytest.mark.integration

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


async def test_applied_event_continues_the_publishers_trace(infra, schema, db, suffix, spans):
    topics = SampleTopics.named(suffix)
    event = purchase("erin", 65)
    record = Record(topics.inbound.name, 0, 0, b"erin", encode(event),
                    (("traceparent", f"00-{TRACE_ID}-{PARENT_SPAN}-01".encode()),),
                    int(time.time() * 1000))
    pool = await runtime_db.create_pool(infra.database_url, schema)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, schema, [*runtime_migrations(), SAMPLE_TABLES])
        processor = BatchProcessor(consumer="sample", topics=[topics.inbound],
                                   handler=make_handler(topics), pool=pool,
                                   dead_letter_topic=dead_letters(suffix))
        await processor.process([record])
    finally:
        await pool.close()

    applied = [s for s in spans.get_finished_spans()
               if s.name == f"process {topics.inbound.name}"]
    assert len(applied) == 1
    span = applied[0]
    assert span.attributes["messaging.system"] == "kafka"
    assert span.attributes["messaging.operation.type"] == "process"
    assert span.attributes["messaging.destination.name"] == topics.inbound.name
    assert span.attributes["messaging.destination.partition.id"] == "0"
    assert span.attributes["messaging.kafka.offset"] == 0
    assert span.attributes["messaging.consumer.group.name"] == "sample"
    assert span.attributes["messaging.kafka.message.key"] == "erin"
    assert not {"messaging.kafka.destination.partition", "messaging.kafka.message.offset"} & \
        set(span.attributes)
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == PARENT_SPAN
    headers = dict(orjson.loads(await db.fetchval("SELECT headers::text FROM outbox")))
    version, trace_id, span_id, _ = headers["traceparent"].split("-")
    assert (trace_id, span_id) == (TRACE_ID, format(span.context.span_id, "016x"))
