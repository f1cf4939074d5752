"""Rebuilding each service from its own events gives its live read model bit for bit; point-in-
time answers from snapshots equal full folds; verify reports a corrupted live row."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import TopicPartition

from ops.replay.pit import as_of, partition_for, snapshot
from ops.replay.rebuild import CatchUp, catch_up_state, rebuild, take_cut, verify
from shared import kafka_client
from tests.e2e.test_economy import a_live_stream, an_adult_with_coins, balance, gift_status
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

SERVICES = ("wallet", "gifting", "payout")


async def all_caught_up(economy, timeout_s: float = 90.0) -> None:
    """Every service caught up in the same round, twice: nothing is still in flight."""
    async def states() -> list[CatchUp]:
        return [await catch_up_state(s, economy.processes[s].schema, economy.topic_prefix)
                for s in SERVICES]

    await wait_until(states, ready=lambda found: all(state.caught_up for state in found),
                     in_a_row=2, timeout_s=timeout_s, interval_s=0.3,
                     describe="every service to catch up")


async def an_economy_flow(world, economy) -> dict:
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    rich, _ = await an_adult_with_coins(world, economy, 16500)
    await world.publish(world.purchase(rich, 16500))
    await balance(economy, rich, 33000)
    await world.publish(world.promo(rich, 50, __import__("datetime").timedelta(days=3)))
    gift = world.gift(rich, stream, "lion")
    await world.publish(gift)
    assert (await gift_status(economy, gift))["status"] == "sent"
    await world.publish(world.gift(rich, stream, "rose", quantity=3),
                        world.gift(rich, stream, "no-such-gift"))

    refunded, purchase = await an_adult_with_coins(world, economy, 330)
    gift = world.gift(refunded, stream, "doughnut", quantity=10)
    await world.publish(gift)
    assert (await gift_status(economy, gift))["status"] == "sent"
    await world.publish(world.refund(purchase))
    await balance(economy, refunded, 330 - 300 - 330)
    blocked = world.gift(refunded, stream, "rose")
    await world.publish(blocked)
    assert (await gift_status(economy, blocked))["status"] == "failed"

    charged, purchase = await an_adult_with_coins(world, economy, 660)
    gift = world.gift(charged, stream, "money-gun")
    await world.publish(gift)
    assert (await gift_status(economy, gift))["status"] == "sent"
    await world.publish(world.chargeback(purchase))
    await balance(economy, charged, 660 - 500 - 660)

    world.advance(days=16)
    await economy.json_when("payout", f"/creators/{creator}", lambda body: body["verified"])
    request = world.payout_request(creator, 10000)
    await world.publish(request)
    await economy.json_when("payout", f"/payouts/{request.payout_id}",
                            lambda body: body["status"] == "reserved")
    await world.publish(world.payout_succeeded(request))
    await economy.json_when("payout", f"/payouts/{request.payout_id}",
                            lambda body: body["status"] == "paid")
    return {"creator": creator, "viewers": [rich, refunded, charged]}


async def test_rebuilds_equal_live_pit_equals_full_fold_and_corruption_is_reported(
        world, economy, infra):
    flow = await an_economy_flow(world, economy)
    await all_caught_up(economy)
    prefix = economy.topic_prefix
    rebuilt: dict[str, str] = {}
    conn = await asyncpg.connect(infra.database_url)
    try:
        for service in SERVICES:
            live = economy.processes[service].schema
            target = f"{live}_rebuild_1"
            await conn.execute(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')
            cut = await take_cut(service, prefix)
            result = await rebuild(service, target, prefix, cut)
            rebuilt[service] = target
            print(result.summary())
            assert not result.stats.broken, result.stats.broken
            outcome = await verify(service, live, target)
            assert outcome.equal, "\n".join(outcome.lines())
            assert all(t.live_rows for t in outcome.tables if t.table in (
                "wallet_balances", "gifts", "creator_balances", "payouts", "event_history"))

        # A corrupted live row is reported, with the column and both values.
        live = economy.processes["wallet"].schema
        viewer = flow["viewers"][0]
        await conn.execute(f'UPDATE "{live}".wallet_balances SET balance = balance + 7'
                           " WHERE user_id = $1", viewer)
        try:
            outcome = await verify("wallet", live, rebuilt["wallet"])
        finally:
            await conn.execute(f'UPDATE "{live}".wallet_balances SET balance = balance - 7'
                               " WHERE user_id = $1", viewer)
        assert not outcome.equal
        differing = [d for t in outcome.tables for d in t.differing]
        assert [(key, column) for key, column, _, _ in differing] == [((viewer,), "balance")]
        assert differing[0][2] == differing[0][3] + 7
        assert (await verify("wallet", live, rebuilt["wallet"])).equal

        # Point in time: snapshots every 3 offsets, answers equal full folds at many offsets.
        await snapshot("wallet", prefix, every=3, database_url=infra.database_url)
        await snapshot("creator", prefix, every=3, database_url=infra.database_url)
        consumer = kafka_client.consumer(bootstrap_servers=infra.kafka_bootstrap_servers)
        await consumer.start()
        try:
            for kind, entity, topic in [
                    *(("wallet", v, "wallet.ledger") for v in flow["viewers"]),
                    ("creator", flow["creator"], "payout.ledger")]:
                partitions = await consumer._client.fetch_all_metadata()  # noqa: SLF001 - no public call for it
                count = len(partitions.partitions_for_topic(prefix + topic))
                partition = partition_for(entity, count)
                tp = TopicPartition(prefix + topic, partition)
                end = (await consumer.end_offsets([tp]))[tp]
                offsets = sorted({0, 1, 2, 3, 4, 5, end // 3, end // 2, end - 1, end, end + 5})
                used_snapshot = False
                for offset in offsets:
                    for point in (str(offset), f"{partition}:{offset}"):
                        quick = await as_of(kind, entity, point, prefix,
                                            database_url=infra.database_url)
                        full = await as_of(kind, entity, point, prefix, use_snapshots=False,
                                           database_url=infra.database_url)
                        assert quick.state == full.state, (kind, entity, point)
                        assert quick.body() | {"snapshot_offset": None, "events_folded": 0} == \
                            full.body() | {"snapshot_offset": None, "events_folded": 0}
                        used_snapshot |= quick.snapshot_offset not in (None, 0)
                assert used_snapshot
                final = await as_of(kind, entity, str(end), prefix,
                                    database_url=infra.database_url)
                if kind == "wallet":
                    now = (await economy.get("wallet", f"/wallets/{entity}")).json()
                    assert final.body()["balance"] == now["balance"]
                else:
                    now = (await economy.get("payout", f"/creators/{entity}")).json()
                    assert (final.body()["earned"], final.body()["withdrawn"]) == (
                        now["earned"], now["withdrawn"])
                # A timestamp: the wallet before the world's first event had nothing.
                early = await as_of(kind, entity, "2000-01-01T00:00:00", prefix,
                                    database_url=infra.database_url)
                assert early.offset == 0 and early.events_folded == 0
        finally:
            await consumer.stop()
    finally:
        for target in rebuilt.values():
            await conn.execute(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')
        await conn.execute("DELETE FROM audit.pit_snapshots WHERE topic LIKE $1", prefix + "%")
        await conn.execute("DELETE FROM audit.pit_marks WHERE topic LIKE $1", prefix + "%")
        await conn.close()
