"""/readyz and /livez of a running service, on the real broker and database: no policy yet,
partitions not yet sought to the tracking offsets, behind them, and a stuck consumer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from ops.seed import seed_events
from services.registry import service
from shared.contract.topics import topic_of
from shared.runtime.kafka_admin import ensure_topics
from shared.runtime.service import ServiceDefinition, ServiceProcess
from shared.settings import Settings
from tests.integration.events import publish, purchase
from tests.integration.sample_app import sample_definition
from tests.integration.test_runtime import count, dead_letters
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def serving(infra, definition: ServiceDefinition, schema: str,
                  **settings: object) -> AsyncIterator[tuple[ServiceProcess, httpx.AsyncClient]]:
    process = ServiceProcess(definition, Settings(
        KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers, DATABASE_URL=infra.database_url,
        COINLOG_DB_SCHEMA=schema, COINLOG_HTTP_PORT=0, COINLOG_INSTANCE_ID="health",
        COINLOG_SHUTDOWN_GRACE_S=2, **settings))
    await ensure_topics(infra.kafka_bootstrap_servers, definition.all_topics,
                        prefix=process.settings.topic_prefix)
    await process.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{process.http_port}",
                                     timeout=10) as client:
            yield process, client
    finally:
        await process.stop()


def checks(body: dict) -> dict[str, dict]:
    return {check["name"]: check for check in body["checks"]}


async def answer(client: httpx.AsyncClient, path: str) -> tuple[int, dict]:
    response = await client.get(path)
    return response.status_code, response.json()


def sample(sample_topics, suffix: str) -> ServiceDefinition:
    definition = sample_definition(sample_topics)
    definition.dead_letters = dead_letters(suffix)
    return definition


@pytest.mark.parametrize("name", ["wallet", "payout", "gifting"])
async def test_a_service_without_policy_is_not_ready_says_how_to_fix_it_and_warns_once(
        infra, schema, suffix, producer, caplog, name):
    prefix = f"it.{suffix}."
    caplog.set_level(logging.WARNING, logger="shared.runtime.health")
    async with serving(infra, service(name), schema, COINLOG_TOPIC_PREFIX=prefix) as (
            _, client):
        consumer = f"consumer {name}"
        status, body = await wait_until(
            lambda: answer(client, "/readyz"),
            ready=lambda found: checks(found[1]).get(consumer, {}).get("ok"),
            describe="the consumer at its tracking offsets")
        assert status == 503 and body["status"] == "not ready"
        policy = checks(body)["policy"]
        assert policy["ok"] is False
        assert "published yet: run `coinlog seed FILE` (or the demo)" in policy["detail"]
        assert all(check["ok"] for check in body["checks"] if check["name"] != "policy")

        events = seed_events()
        for event in events:
            await publish(producer, prefix + topic_of(event).name, [event])
        status, body = await wait_until(lambda: answer(client, "/readyz"),
                                        ready=lambda found: found[0] == 200,
                                        describe="ready once the policy arrived")
        assert body["status"] == "ready"
        assert checks(body)["policy"] == {"name": "policy", "ok": True, "detail": "policy known"}
    warnings = [r.getMessage() for r in caplog.records if "published yet" in r.getMessage()]
    assert len(warnings) == 1, warnings
    if name == "payout":
        assert "share-2026-01" in warnings[0] and "cash-usd-2026-01" in warnings[0]
    if name == "wallet":
        assert "spending-2026-01" in warnings[0]


async def test_not_ready_until_its_partitions_stand_at_the_tracking_offsets(
        infra, sample_topics, schema, db, producer, suffix):
    definition = sample(sample_topics, suffix)
    await publish(producer, sample_topics.inbound.name, [purchase("ann", 1) for _ in range(9)])
    async with serving(infra, definition, schema):
        await wait_until(lambda: count(db, "SELECT count(*) FROM applied_log"),
                         ready=lambda applied: applied == 9, describe="the first events")

    # The seek on assignment reads the tracking rows: while they are locked it cannot, and the
    # consumer holds partitions it has not placed at the tracked offsets yet.
    blocker = db
    transaction = blocker.transaction()
    await transaction.start()
    await blocker.execute("LOCK TABLE tracking IN ACCESS EXCLUSIVE MODE")
    try:
        async with serving(infra, definition, schema) as (_, client):
            status, body = await answer(client, "/readyz")
            assert status == 503
            assert checks(body)["consumer sample"] == {
                "name": "consumer sample", "ok": False,
                "detail": "partitions not assigned yet (joining its group)"}
            await transaction.rollback()
            transaction = None
            status, body = await wait_until(lambda: answer(client, "/readyz"),
                                            ready=lambda found: found[0] == 200,
                                            describe="ready once sought to tracking")
            assert checks(body)["consumer sample"]["detail"] == \
                "3 partitions at their tracking offsets"

            # Another instance applied records this one has not reached (as after a
            # rebalance): until it passes them it is behind what PostgreSQL records.
            partition = await db.fetchval(
                "SELECT partition FROM tracking WHERE next_offset > 0 LIMIT 1")
            await db.execute("UPDATE tracking SET next_offset = next_offset + 100 "
                             "WHERE partition = $1", partition)
            status, body = await wait_until(lambda: answer(client, "/readyz"),
                                            ready=lambda found: found[0] == 503,
                                            describe="behind the tracking offsets")
            detail = checks(body)["consumer sample"]["detail"]
            assert detail.startswith("behind its tracking offsets: ")
            assert f"{sample_topics.inbound.name}[{partition}]" in detail
    finally:
        if transaction is not None:
            await transaction.rollback()


async def test_livez_is_healthy_idle_and_fails_for_a_stuck_consumer_or_a_dead_loop(
        infra, sample_topics, schema, db, producer, suffix):
    definition = sample(sample_topics, suffix)
    async with serving(infra, definition, schema, COINLOG_CONSUMER_STALL_S=1) as (
            process, client):
        await publish(producer, sample_topics.inbound.name, [purchase("bea", 1)])
        await wait_until(lambda: count(db, "SELECT count(*) FROM applied_log"),
                         describe="the first event")
        runtime = process.consumers[0]
        # Idle with nothing waiting, polled more often than the bound: alive.
        status, body = await wait_until(
            lambda: answer(client, "/livez"), ready=lambda found: found[0] == 200,
            in_a_row=3, describe="alive while idle")
        assert body["status"] == "alive"

        await publish(producer, sample_topics.inbound.name,
                      [purchase("bea", 2, package_id="stall"), purchase("bea", 3)])
        await wait_until(lambda: runtime.in_batch, describe="the stalling batch in hand")
        status, body = await wait_until(lambda: answer(client, "/livez"),
                                        ready=lambda found: found[0] == 503,
                                        describe="stuck reported")
        assert body["status"] == "stuck"
        detail = checks(body)["consumer sample"]["detail"]
        assert detail.startswith("no progress for ") and detail.endswith("a batch in hand")


async def test_livez_fails_once_the_consuming_task_has_died(
        infra, sample_topics, schema, db, producer, suffix):
    async with serving(infra, sample(sample_topics, suffix), schema) as (process, client):
        assert (await answer(client, "/livez"))[0] == 200
        for task in process.consumers[0].subscriber.tasks:
            task.cancel()
        await asyncio.gather(*process.consumers[0].subscriber.tasks, return_exceptions=True)
        status, body = await answer(client, "/livez")
        assert (status, checks(body)["consumer sample"]["detail"]) == (
            503, "its consuming task has ended")
