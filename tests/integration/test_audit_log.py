"""The audit over a real log: the three services (tests/e2e fixtures) decide a small economy
under their own topic prefix; the audit of that prefix passes. A copy of the topics with one
CoinsSpent altered, under another prefix, fails naming the broken invariant and the record."""

from __future__ import annotations

import uuid

import orjson

from ops.audit.command import AuditRun, run_audit
from shared import kafka_client
from shared.contract.topics import ALL_TOPICS
from shared.logread import LogReader
from shared.runtime.kafka_admin import ensure_topics
from tests.e2e.conftest import Economy, economy, world  # noqa: F401 - fixtures
from tests.e2e.test_economy import a_live_stream, an_adult_with_coins, gift_status
from tests.e2e.world import World
from tests.infrastructure import Endpoints
from tests.waiting import wait_until


async def _published(world: World, event):
    await world.publish(event)
    return event


async def _passing_audit(bootstrap: str, prefix: str, timeout_s: float = 90.0) -> AuditRun:
    """Audit until the services have decided everything (a pass); fail naming what the last
    run found broken."""
    runs: list[AuditRun] = []

    async def broken() -> list[tuple[str, list[str]]]:
        runs.append(await run_audit(bootstrap, prefix=prefix))
        return [(i.name, [f"{v.location} {v.message}" for v in i.examples])
                for i in runs[-1].report.invariants if not i.passed]

    # Each run reads the whole log: one a second is enough.
    await wait_until(broken, ready=lambda found: not found, timeout_s=timeout_s, interval_s=1.0,
                     describe=f"the audit of {prefix} to pass")
    return runs[-1]


async def _copy(bootstrap: str, source: str, target: str, alter) -> tuple[str, int, int]:
    """Copy every topic record by record (same partition, key, bytes) except the one `alter`
    changes; return where the altered record landed."""
    await ensure_topics(bootstrap, ALL_TOPICS, prefix=target)
    reader = LogReader(bootstrap, ALL_TOPICS, prefix=source)
    producer = kafka_client.producer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    altered_at = None
    try:
        async for batch in reader.read(await reader.cut(), decode_events=False):
            for record in batch:
                value = record.value
                if altered_at is None and record.topic == "wallet.ledger":
                    changed = alter(orjson.loads(value))
                    if changed is not None:
                        value = orjson.dumps(changed)
                        altered_at = (record.topic, record.partition, record.offset)
                await producer.send_and_wait(target + record.topic, value, key=record.key,
                                             partition=record.partition)
    finally:
        await producer.stop()
    assert altered_at is not None, "no event to alter"
    return altered_at


async def test_audit_of_a_real_log_passes_and_catches_an_altered_event(
        infra: Endpoints, economy: Economy, world: World):
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    viewer, purchase = await an_adult_with_coins(world, economy, 660)
    for gift, quantity in (("rose", 5), ("rose", 1), ("perfume", 2), ("lion", 1)):
        world.advance(seconds=1)
        await gift_status(economy, await _published(world, world.gift(viewer, stream, gift,
                                                                      quantity)))
    world.advance(seconds=5)
    await world.publish(world.refund(purchase))
    await economy.json_when("wallet", f"/wallets/{viewer}", lambda body: body["balance"] < 0)

    bootstrap = infra.kafka_bootstrap_servers
    report = (await _passing_audit(bootstrap, economy.topic_prefix)).report
    assert report.figures["events_by_type"].get("wallet.coins_spent", 0) >= 3
    assert report.figures["events_by_type"].get("payout.diamonds_clawed_back", 0) >= 1

    def more_coins(payload: dict) -> dict | None:
        if payload.get("type") != "wallet.coins_spent" or payload["user_id"] != viewer:
            return None
        return {**payload, "coins": payload["coins"] + 1}

    tampered = f"audit-{uuid.uuid4().hex[:8]}."
    topic, partition, offset = await _copy(bootstrap, economy.topic_prefix, tampered,
                                           more_coins)
    broken = (await run_audit(bootstrap, prefix=tampered)).report
    assert not broken.passed
    assert "coin_conservation" in broken.failed_names()
    spots = [(v.location.topic, v.location.partition, v.location.offset)
             for v in broken.invariant("coin_conservation").examples if v.location]
    assert (topic, partition, offset) in spots, spots
