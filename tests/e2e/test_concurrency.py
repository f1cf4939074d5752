"""Many gifts from one sender in flight while wallet instances join and leave: never an
overspend, never a gift decided twice."""

from __future__ import annotations

import asyncio

import pytest

from services.wallet.app import definition as wallet
from shared.runtime.service import ServiceProcess
from shared.settings import Settings
from tests.e2e.test_economy import a_live_stream, an_adult_with_coins, balance
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


async def test_concurrent_gifts_across_two_wallet_instances_never_overspend(
        world, economy, infra):
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    viewer, _ = await an_adult_with_coins(world, economy, 1000)
    first = economy.processes["wallet"]
    second = ServiceProcess(wallet, Settings(
        KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers,
        DATABASE_URL=infra.database_url_of("wallet"),
        COINLOG_HTTP_PORT=-1, COINLOG_DB_SCHEMA=first.schema,
        COINLOG_INSTANCE_ID="e2e-wallet-2", COINLOG_BATCH_MAX_RECORDS=7,
        COINLOG_TOPIC_PREFIX=economy.topic_prefix))
    # 300 hearts of 5 coins ask for 1,500 coins against 1,000: exactly 200 can be sent.
    requests = [world.gift(viewer, stream, "heart") for _ in range(300)]
    await second.start()
    await publish_in_chunks(world, requests[:100])
    # The first instance leaves mid-stream: every partition, the sender's too, moves to the
    # second while gifts are in flight.
    stopping = asyncio.create_task(first.stop())
    await publish_in_chunks(world, requests[100:200])
    await stopping
    await wait_until(lambda: second.consumers[0].batches > 0,
                     describe="the second instance to decide a batch")
    # A new first instance joins mid-stream and takes half the partitions back.
    replacement = ServiceProcess(wallet, first.settings)
    joining = asyncio.create_task(replacement.start())
    await publish_in_chunks(world, requests[200:])
    await joining
    await economy.replace("wallet", replacement)
    await second.stop()

    statuses = await _final_statuses(economy, requests)
    assert statuses.count("sent") == 200
    assert statuses.count("failed") == 100
    final = await balance(economy, viewer, 0)
    assert final["debt"] == 0
    history = await _history(economy, viewer)
    spent = [item for item in history if item["type"] == "wallet.coins_spent"]
    assert len(spent) == 200
    assert len({item["request_id"] for item in spent}) == 200
    assert min(item["balance_after"] for item in spent) == 0


async def publish_in_chunks(world, requests, size: int = 10) -> None:
    for chunk in range(0, len(requests), size):
        await world.publish(*requests[chunk:chunk + size])


async def _final_statuses(economy, requests) -> list[str]:
    statuses = []
    for request in requests:
        body = await economy.json_when("gifting", f"/gifts/{request.request_id}",
                                       lambda b: b["status"] in ("sent", "failed"),
                                       timeout_s=120)
        statuses.append(body["status"])
    return statuses


async def _history(economy, user_id: str) -> list[dict]:
    items, cursor = [], 0
    while cursor is not None:
        page = (await economy.get("wallet", f"/wallets/{user_id}/history?after={cursor}"
                                            "&limit=500")).json()
        items.extend(page["items"])
        cursor = page["next"]
    return items
