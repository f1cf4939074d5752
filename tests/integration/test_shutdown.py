"""SIGTERM to a service process with a batch in flight: the batch commits, the process exits 0
within the shutdown grace, and after a restart every event is applied exactly once."""

from __future__ import annotations

import signal
import time

import pytest

from tests.integration.conftest import read_topic
from tests.integration.events import publish, purchase
from tests.integration.test_runtime import (
    NOT_MIGRATED_YET,
    _all_applied_and_drained,
    assert_applied_exactly_once,
    assert_outputs_published,
    count,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

GRACE_S = 15


async def _batch_in_flight(db, schema: str) -> bool:
    # The consumer's session sits in its open transaction between the handler's statements.
    return bool(await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1"
        " AND state = 'idle in transaction'", f"coinlog/{schema}/worker-%"))


async def test_sigterm_commits_the_batch_in_flight_and_exits_within_the_grace(
        infra, sample_topics, schema, db, producer, workers):
    events = [purchase(f"user-{i % 11}", 1 + i % 50) for i in range(3000)]
    await publish(producer, sample_topics.inbound.name, events)
    # 4 ms per event: a batch of 500 is in flight for about two seconds.
    worker = workers(batch=500, env={"SLOW_MS": "4", "COINLOG_SHUTDOWN_GRACE_S": str(GRACE_S)})
    await wait_until(lambda: count(db, "SELECT count(*) FROM applied_log"), timeout_s=90,
                     describe="a first batch committed", not_yet=NOT_MIGRATED_YET)
    await wait_until(lambda: _batch_in_flight(db, schema), describe="a batch in flight")
    committed_before = await count(db, "SELECT count(*) FROM applied_log")

    worker.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    await wait_until(lambda: worker.process.poll() is not None, timeout_s=GRACE_S + 15,
                     describe="the worker to exit")
    took_s = time.monotonic() - signalled

    assert worker.process.returncode == 0
    assert took_s < GRACE_S, f"stopping took {took_s:.1f} s"
    committed = await count(db, "SELECT count(*) FROM applied_log")
    assert committed > committed_before, "the batch in flight was rolled back, not finished"
    assert committed < len(events), "the worker went on taking batches after SIGTERM"
    # The tracking offsets moved with exactly the events applied: nothing in between.
    assert await count(db, "SELECT sum(next_offset) FROM tracking") == committed
    assert not await _batch_in_flight(db, schema)

    workers()
    await wait_until(lambda: _all_applied_and_drained(db, len(events)), timeout_s=120,
                     describe="every event applied and the outbox drained")
    await assert_applied_exactly_once(db, events)
    outputs = await read_topic(infra.kafka_bootstrap_servers, sample_topics.outbound.name,
                               expect=len(events))
    assert_outputs_published(outputs, events)
