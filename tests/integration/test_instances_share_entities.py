"""Two instances of one service that decide for the same entity at the same moment.

An entity's inputs arrive on several topics (a viewer's purchase on payments.purchases, their age
check on users.accounts), so they are assigned to different instances of the service. Each test
picks an entity whose records land on partitions of both instances and holds each instance's
transaction for it open, decided but not committed, until the other instance has decided too or
is waiting for a lock: the two transactions overlap every time, not only when Kafka's timing
allows.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka.partitioner import murmur2

from services.payout import handlers as payout_handlers
from services.payout.app import definition as payout
from services.wallet.app import definition as wallet
from shared.contract.envelope import Event
from shared.contract.events.wallet import CoinsSpent, LotUse
from shared.contract.topics import (
    ALL_TOPICS,
    PROMO_GRANTS,
    PURCHASES,
    USER_ACCOUNTS,
    WALLET_LEDGER,
    Topic,
)
from shared.runtime.kafka_admin import ensure_topics
from shared.runtime.service import ServiceDefinition, ServiceProcess
from shared.runtime.unit import BatchHandler, Inbound, Unit
from shared.settings import Settings
from tests.e2e.world import World
from tests.infrastructure import Endpoints
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

INSTANCES = ("one", "two")


class Rendezvous:
    """Holds each instance's transaction for `entity` open after its handler has decided, until
    the other instance has decided too or waits for a lock: the two transactions overlap."""

    def __init__(self, entity: str, entity_of: Callable[[Event], Iterable[str]],
                 database_url: str, schema: str):
        self.entity = entity
        self.entity_of = entity_of
        self.database_url = database_url
        self.schema = schema
        self.decided = {instance: asyncio.Event() for instance in INSTANCES}

    def wrap(self, instance: str, handler: BatchHandler) -> BatchHandler:
        async def handle(unit: Unit, inbounds: Sequence[Inbound]) -> None:
            await handler(unit, inbounds)
            # Decided and written, not committed yet: the other instance must decide now.
            if any(self.entity in self.entity_of(i.event) for i in inbounds):
                self.decided[instance].set()
                await self._until_the_other_overlaps(instance)
        return handle

    async def _until_the_other_overlaps(self, instance: str) -> None:
        other = next(name for name in INSTANCES if name != instance)
        conn = await asyncpg.connect(self.database_url)
        try:
            async def overlapping() -> bool:
                waiting = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
                    " AND wait_event_type = 'Lock'", f"coinlog/{self.schema}/{other}")
                return self.decided[other].is_set() or waiting > 0
            await wait_until(overlapping, timeout_s=30,
                             describe=f"instance {other} to decide for {self.entity} too")
        finally:
            await conn.close()


def definition_with(base: ServiceDefinition, handler: BatchHandler) -> ServiceDefinition:
    (spec,) = base.consumers
    return replace(base, consumers=[replace(spec, handler=handler)])


async def two_instances(base: ServiceDefinition, rendezvous: Rendezvous, infra: Endpoints,
                        prefix: str) -> dict[str, ServiceProcess]:
    processes = {}
    for instance in INSTANCES:
        (spec,) = base.consumers
        process = ServiceProcess(
            definition_with(base, rendezvous.wrap(instance, spec.handler)),
            Settings(KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers,
                     DATABASE_URL=infra.database_url_of(base.name), COINLOG_HTTP_PORT=-1,
                     COINLOG_DB_SCHEMA=rendezvous.schema, COINLOG_INSTANCE_ID=instance,
                     COINLOG_BATCH_TIMEOUT_MS=10, COINLOG_TOPIC_PREFIX=prefix))
        await process.start()
        processes[instance] = process
    total = sum(topic.partitions for topic in base.consumers[0].topics)

    def shared_out() -> dict | None:
        owned = {name: set(p.consumers[0].kafka_consumer.assignment())
                 for name, p in processes.items()}
        if all(owned.values()) and sum(map(len, owned.values())) == total \
                and not set.intersection(*owned.values()):
            return {(tp.topic.removeprefix(prefix), tp.partition): name
                    for name, tps in owned.items() for tp in tps}
        return None

    await wait_until(shared_out, timeout_s=60, describe="both instances to share the partitions")
    return processes


def owners(processes: dict[str, ServiceProcess], prefix: str) -> dict[tuple[str, int], str]:
    return {(tp.topic.removeprefix(prefix), tp.partition): name
            for name, process in processes.items()
            for tp in process.consumers[0].kafka_consumer.assignment()}


def partition_of(key: str, topic: Topic) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % topic.partitions


def key_split_across(owned: dict[tuple[str, int], str], topics: Sequence[Topic],
                     kind: str) -> str:
    """A key whose partitions on `topics` are owned by both instances."""
    for n in range(10_000):
        key = f"{kind}-{uuid.uuid4().hex[:8]}-{n}"
        if len({owned[(t.name, partition_of(key, t))] for t in topics}) == len(INSTANCES):
            return key
    raise AssertionError(f"no key splits {[t.name for t in topics]} across the instances")


@pytest.fixture
async def prefix(infra: Endpoints, suffix: str) -> str:
    name = f"it-{suffix}."
    await ensure_topics(infra.kafka_bootstrap_servers, ALL_TOPICS, prefix=name)
    return name


async def stop_all(processes: dict[str, ServiceProcess]) -> None:
    await asyncio.gather(*(process.stop() for process in processes.values()))


async def test_two_wallet_instances_deciding_for_one_new_wallet_keep_both_decisions(
        infra: Endpoints, schema: str, db, producer, prefix: str):
    world = World(producer, uuid.uuid4().hex[:8], prefix)
    rendezvous = Rendezvous("", lambda event: [event.key], infra.database_url, schema)
    processes = await two_instances(wallet, rendezvous, infra, prefix)
    try:
        viewer = key_split_across(owners(processes, prefix),
                                  [PURCHASES, PROMO_GRANTS, USER_ACCOUNTS], "viewer")
        rendezvous.entity = viewer
        await world.publish(world.purchase(viewer, 65),
                            world.promo(viewer, 10, expires_in=timedelta(days=30)),
                            world.adult(viewer))
        await wait_until(lambda: _count_is(db, viewer, 3), timeout_s=60,
                         describe="three decisions for the viewer")
        row = await db.fetchrow("SELECT balance, adult FROM wallet_balances WHERE user_id = $1",
                                viewer)
        assert (row["balance"], row["adult"]) == (75, True)
        types = sorted(r["type"] for r in await db.fetch(
            "SELECT type FROM event_history WHERE entity = $1", viewer))
        assert types == ["wallet.age_verification_recorded", "wallet.coins_purchased",
                         "wallet.promo_coins_credited"]
    finally:
        await stop_all(processes)
    assert all(event.is_set() for event in rendezvous.decided.values())


async def _count_is(db, entity: str, expected: int) -> bool:
    found = await db.fetchval("SELECT count(*) FROM event_history WHERE entity = $1", entity)
    assert found <= expected, f"{found} decisions for {entity}, expected {expected}"
    return found == expected


def coins_spent(viewer: str, creator: str, request: str) -> CoinsSpent:
    return CoinsSpent(event_id=uuid.uuid4(), occurred_at=datetime(2026, 5, 1, tzinfo=UTC),
                      producer="wallet", user_id=viewer, request_id=request,
                      creator_id=creator, stream_id="stream-1", gift_id="rose", coins=100,
                      lots=(LotUse(lot_id="pur-1", kind="purchase", coins=100,
                                   value_minor=150, currency="USD"),),
                      balance_after=0)


async def test_two_payout_instances_deciding_for_one_new_creator_keep_both_decisions(
        infra: Endpoints, schema: str, db, producer, prefix: str):
    world = World(producer, uuid.uuid4().hex[:8], prefix)
    rendezvous = Rendezvous("", payout_handlers.creators_of, infra.database_url, schema)
    processes = await two_instances(payout, rendezvous, infra, prefix)
    try:
        owned = owners(processes, prefix)
        creator = f"creator-{uuid.uuid4().hex[:8]}"
        # The gift's CoinsSpent is keyed by its sender: on another partition than the creator's.
        creator_owner = owned[(USER_ACCOUNTS.name, partition_of(creator, USER_ACCOUNTS))]
        viewer = next(v for v in (f"viewer-{n}-{uuid.uuid4().hex[:6]}" for n in range(1000))
                      if owned[(WALLET_LEDGER.name, partition_of(v, WALLET_LEDGER))]
                      != creator_owner)
        rendezvous.entity = creator
        await world.publish(coins_spent(viewer, creator, f"req-{uuid.uuid4().hex[:8]}"),
                            world.verified_creator(creator))
        await wait_until(lambda: _count_is(db, creator, 2), timeout_s=60,
                         describe="two decisions for the creator")
        row = await db.fetchrow("SELECT verified, earned FROM creator_balances"
                                " WHERE creator_id = $1", creator)
        assert (row["verified"], row["earned"]) == (True, 50)
    finally:
        await stop_all(processes)
    assert all(event.is_set() for event in rendezvous.decided.values())
