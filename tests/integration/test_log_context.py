"""Lines logged while the runtime handles an event name that event and its chain."""

from __future__ import annotations

import logging

import orjson
import pytest

from shared.runtime import db as runtime_db
from shared.runtime.logs import JsonLines
from shared.runtime.migrate import apply_migrations, runtime_migrations
from shared.runtime.processor import BatchProcessor
from tests.integration.events import publish, purchase
from tests.integration.sample_app import SAMPLE_TABLES
from tests.integration.test_runtime import dead_letters, fetch_records

pytestmark = pytest.mark.integration


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.setFormatter(JsonLines("sample"))
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(orjson.loads(self.format(record)))


async def test_a_line_logged_while_handling_names_the_event(infra, sample_topics, schema,
                                                            producer):
    log = logging.getLogger("tests.handler")
    lines = Lines()
    log.addHandler(lines)

    async def handler(unit, inbounds):
        log.warning("handling %d", len(inbounds))

    one, two, three = (purchase(f"user-{i}", 10) for i in range(3))
    await publish(producer, sample_topics.inbound.name, [one, two, three])
    records = await fetch_records(infra.kafka_bootstrap_servers, sample_topics.inbound.name, 3)
    pool = await runtime_db.create_pool(infra.database_url, schema)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, schema, [*runtime_migrations(), SAMPLE_TABLES])
        processor = BatchProcessor(consumer="sample", topics=[sample_topics.inbound],
                                   handler=handler, pool=pool,
                                   dead_letter_topic=dead_letters("unused"))
        first = next(r for r in records if orjson.loads(r.value)["event_id"] == str(one.event_id))
        await processor.process([first])
        await processor.process([r for r in records if r is not first])
    finally:
        await pool.close()
        log.removeHandler(lines)
    alone, batch = lines.lines
    assert (alone["event_id"], alone["correlation_id"]) == (str(one.event_id),) * 2
    assert alone["message"] == "handling 1" and alone["service"] == "sample"
    # Two events at once: the line belongs to neither.
    assert batch["message"] == "handling 2" and "event_id" not in batch
