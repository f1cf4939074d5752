"""A rebuild shared out among processes writes the same tables as one in a single process, and
both equal the live ones, also when a producer partitions requests its own way."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.partitioner import murmur2

from ops.replay.rebuild import rebuild, take_cut, verify
from shared.contract.codec import encode
from shared.contract.topics import GIFT_REQUESTS
from tests.e2e.test_economy import a_live_stream, an_adult_with_coins, gift_status
from tests.e2e.test_replay import all_caught_up

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", ["wallet", "payout", "gifting"])
async def test_rebuild_in_processes_equals_live(world, economy, infra, service):
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    for _ in range(3):
        viewer, _ = await an_adult_with_coins(world, economy, 300)
        gift = world.gift(viewer, stream, "doughnut")
        await world.publish(gift)
        assert (await gift_status(economy, gift))["status"] == "sent"
    await all_caught_up(economy)
    prefix = economy.topic_prefix
    live = economy.processes[service].schema
    target = f"{live}_rebuild_in_processes"
    conn = await asyncpg.connect(infra.database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')
        cut = await take_cut(service, prefix)
        result = await rebuild(service, target, prefix, cut, processes=3)
        assert result.processes == 3
        assert result.stats.records == cut.total
        outcome = await verify(service, live, target)
        assert outcome.equal, "\n".join(outcome.lines())
        assert not await conn.fetchval(
            "SELECT count(*) FROM pg_namespace WHERE nspname = $1", f"{target}_partial")
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')
        await conn.close()


async def test_requests_partitioned_unlike_the_service_make_the_rebuild_fold_in_one_process(
        world, economy, infra):
    """A producer that puts a request on another partition than Kafka's default partitioner
    would: its rejection and the request land in different shares, so the rebuild folds
    again in one process and still equals live."""
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    viewer, _ = await an_adult_with_coins(world, economy, 300)
    request = world.gift(viewer, stream, "no-such-gift")
    default = (murmur2(request.key.encode()) & 0x7FFFFFFF) % GIFT_REQUESTS.partitions
    await world.producer.send_and_wait(
        economy.topic_prefix + GIFT_REQUESTS.name, encode(request), key=request.key.encode(),
        partition=(default + 1) % GIFT_REQUESTS.partitions)
    assert (await gift_status(economy, request))["status"] == "rejected"
    await all_caught_up(economy)
    prefix = economy.topic_prefix
    live = economy.processes["gifting"].schema
    target = f"{live}_rebuild_moved_request"
    conn = await asyncpg.connect(infra.database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')
        result = await rebuild("gifting", target, prefix, await take_cut("gifting", prefix),
                               processes=GIFT_REQUESTS.partitions)
        assert result.processes == 1 and not result.stats.broken
        outcome = await verify("gifting", live, target)
        assert outcome.equal, "\n".join(outcome.lines())
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')
        await conn.close()
