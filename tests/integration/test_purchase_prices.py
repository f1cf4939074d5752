"""Purchases against the coin package price list, on the real broker and database: the wallet
credits a purchase at its listed price, refuses one that is not (17,500 coins for a cent under
a rate version nobody published) with the reason on wallet.ledger and the balance unchanged,
claws nothing back when the refused purchase is refunded, dead-letters a price that would
change a listed one, and a rebuild of the wallet from its log verifies equal to the live one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest

from ops.replay.rebuild import catch_up_state, rebuild, take_cut, verify
from services.wallet.app import definition as wallet
from shared.contract.codec import decode
from shared.contract.events import payments, policy
from shared.contract.topics import WALLET_LEDGER
from shared.runtime.kafka_admin import ensure_topics
from shared.runtime.service import ServiceProcess
from shared.settings import Settings
from tests.e2e.world import World
from tests.infrastructure import Endpoints
from tests.integration.conftest import read_topic
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
async def running(infra: Endpoints, schema: str, suffix: str
                  ) -> AsyncIterator[tuple[ServiceProcess, str]]:
    prefix = f"it-{suffix}."
    process = ServiceProcess(wallet, Settings(
        KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers, DATABASE_URL=infra.database_url,
        COINLOG_HTTP_PORT=-1, COINLOG_DB_SCHEMA=schema, COINLOG_INSTANCE_ID="prices",
        COINLOG_BATCH_TIMEOUT_MS=10, COINLOG_TOPIC_PREFIX=prefix))
    await ensure_topics(infra.kafka_bootstrap_servers, wallet.all_topics, prefix=prefix)
    await process.start()
    try:
        yield process, prefix
    finally:
        await process.stop()


def seventeen_thousand_coins_for_a_cent(world: World, user_id: str
                                        ) -> payments.PurchaseCompleted:
    return payments.PurchaseCompleted(
        event_id=uuid.uuid4(), occurred_at=world.now, user_id=user_id,
        purchase_id=world.id("pur-cheap"), coins=17500, amount_minor=1, currency="USD",
        platform=payments.Platform.web, region="US", package_id="coins-17500",
        rate_version="packs-made-up")


async def test_a_mispriced_purchase_is_refused_on_the_ledger_and_replays_equal(
        infra: Endpoints, running, producer, db: asyncpg.Connection, schema: str):
    _, prefix = running
    world = World(producer, uuid.uuid4().hex[:8], prefix)
    viewer = world.id("viewer")
    cheap = seventeen_thousand_coins_for_a_cent(world, viewer)
    valid = world.purchase(viewer, 65)
    cheaper_pack = policy.CoinPackagePriced(
        event_id=uuid.uuid4(), occurred_at=world.now, rate_version="packs-2026-01",
        package_id="coins-17500", platform="web", region="US", coins=17500, amount_minor=1,
        currency="USD")
    await world.publish(world.adult(viewer), cheap, valid, cheaper_pack)

    ledger = await read_topic(infra.kafka_bootstrap_servers, prefix + WALLET_LEDGER.name,
                              expect=3)
    events = [decode(WALLET_LEDGER, record.value).event for record in ledger]
    refused = [event for event in events if event.type == "wallet.purchase_refused"]
    credited = [event for event in events if event.type == "wallet.coins_purchased"]
    assert [(e.purchase_id, e.reason, e.coins, e.amount_minor, e.rate_version, e.balance_after)
            for e in refused] == [
        (cheap.purchase_id, "unknown_rate_version", 17500, 1, "packs-made-up", 0)]
    assert refused[0].causation_id == cheap.event_id
    assert [(e.purchase_id, e.coins, e.balance_after) for e in credited] == [
        (valid.purchase_id, 65, 65)]

    async def balance() -> int | None:
        return await db.fetchval("SELECT balance FROM wallet_balances WHERE user_id = $1",
                                 viewer)

    assert await wait_until(balance, ready=lambda found: found == 65,
                            describe="the valid purchase's balance") == 65
    letters = await read_topic(infra.kafka_bootstrap_servers, prefix + "wallet.dead-letter",
                               expect=1)
    [letter] = [orjson.loads(record.value) for record in letters]
    assert (letter["reason"], letter["source_event_id"]) == (
        "policy_conflict", str(cheaper_pack.event_id))
    assert "18500 USD" in letter["detail"]

    # A refund of the refused purchase claws nothing back; a later purchase still counts.
    refund = payments.PurchaseRefunded(
        event_id=uuid.uuid4(), occurred_at=world.now, user_id=viewer,
        purchase_id=cheap.purchase_id, amount_minor=1, currency="USD")
    after = world.purchase(viewer, 330)
    await world.publish(refund, after)
    assert await wait_until(balance, ready=lambda found: found == 65 + 330,
                            describe="the purchase after the refund") == 395
    types = await db.fetch("SELECT type FROM event_history WHERE entity = $1 ORDER BY seq",
                           viewer)
    assert "wallet.coins_clawed_back" not in [row["type"] for row in types]

    # The wallet rebuilt from its log, price list included, is the live one row for row.
    async def caught_up() -> bool:
        state = await catch_up_state("wallet", schema, prefix,
                                     database_url=infra.database_url,
                                     bootstrap_servers=infra.kafka_bootstrap_servers)
        return state.caught_up

    await wait_until(caught_up, in_a_row=2, describe="the wallet to catch up")
    target = f"{schema}_rebuild"
    cut = await take_cut("wallet", prefix, bootstrap_servers=infra.kafka_bootstrap_servers)
    try:
        result = await rebuild("wallet", target, prefix, cut, database_url=infra.database_url,
                               bootstrap_servers=infra.kafka_bootstrap_servers)
        assert not result.stats.broken, result.stats.broken
        outcome = await verify("wallet", schema, target, database_url=infra.database_url)
        assert outcome.equal, "\n".join(outcome.lines())
        prices = next(t for t in outcome.tables if t.table == "coin_package_prices")
        assert prices.live_rows == 0  # the conflicting price was not stored, live or rebuilt
    finally:
        await db.execute(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')
