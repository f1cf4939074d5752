"""The service the throughput benchmark runs: the sample app's work, per event or in bulk.

Both handlers do the same work as tests/integration/sample_app.py: log each application,
credit the purchase into a balance table and emit one CoinsPurchased per input event.

* ``per-event`` is the sample app's handler itself (two statements per event).
* ``bulk`` does it with one statement per table per batch (unnest), which is how a ledger
  handler would be written for throughput: the per-batch cost no longer grows with the batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from shared.contract.events.deadletter import EventDeadLettered
from shared.contract.events.payments import PurchaseCompleted
from shared.contract.events.wallet import CoinsPurchased
from shared.contract.topics import Topic
from shared.runtime.service import ConsumerSpec, ServiceDefinition
from shared.runtime.unit import BatchHandler, Inbound, Unit
from tests.integration.sample_app import SAMPLE_TABLES, SampleTopics, make_handler

HANDLERS = ("bulk", "per-event")


@dataclass(frozen=True)
class BenchTopics:
    inbound: Topic
    outbound: Topic
    dead_letters: Topic

    @classmethod
    def named(cls, suffix: str, partitions: int) -> BenchTopics:
        return cls(
            Topic(f"bench.{suffix}.purchases", "bench", "user_id", partitions,
                  (PurchaseCompleted,)),
            Topic(f"bench.{suffix}.credited", "bench", "user_id", partitions, (CoinsPurchased,)),
            Topic(f"bench.{suffix}.dead-letter", "bench", "consumer", 1, (EventDeadLettered,)),
        )

    @property
    def all(self) -> tuple[Topic, ...]:
        return (self.inbound, self.outbound, self.dead_letters)


def bulk_handler(outbound: Topic) -> BatchHandler:
    async def handle(unit: Unit, events: Sequence[Inbound]) -> None:
        purchases: list[PurchaseCompleted] = []
        for inbound in events:
            assert isinstance(inbound.event, PurchaseCompleted)
            purchases.append(inbound.event)
        await unit.conn.execute(
            """INSERT INTO applied_log (event_id, user_id, coins)
               SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[])""",
            [event.event_id for event in purchases], [event.user_id for event in purchases],
            [event.coins for event in purchases])
        credited: dict[str, int] = {}
        for event in purchases:
            credited[event.user_id] = credited.get(event.user_id, 0) + event.coins
        users = sorted(credited)  # one lock order for every batch
        rows = await unit.conn.fetch(
            """INSERT INTO balances (user_id, coins)
               SELECT * FROM unnest($1::text[], $2::bigint[])
               ON CONFLICT (user_id) DO UPDATE SET coins = balances.coins + EXCLUDED.coins
               RETURNING user_id, coins""",
            users, [credited[user] for user in users])
        # Replay the batch in order from the balance before it, so each event carries the
        # balance right after itself, as the per-event handler's RETURNING gives it.
        running = {row["user_id"]: row["coins"] - credited[row["user_id"]] for row in rows}
        for inbound, event in zip(events, purchases, strict=True):
            running[event.user_id] += event.coins
            unit.emit(event.caused(
                CoinsPurchased, "credited", user_id=event.user_id, purchase_id=event.purchase_id,
                coins=event.coins, amount_minor=event.amount_minor, currency=event.currency,
                rate_version=event.rate_version, balance_after=running[event.user_id],
            ), topic=outbound, cause=inbound)

    return handle


class TimedHandler:
    """Wraps a handler and adds up the time spent inside it (the handler's share of a batch)."""

    def __init__(self, handler: BatchHandler):
        self.handler = handler
        self.seconds = 0.0
        self.calls = 0

    async def __call__(self, unit: Unit, events: Sequence[Inbound]) -> None:
        started = time.perf_counter()
        try:
            await self.handler(unit, events)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


def bench_definition(topics: BenchTopics, consumer: str, kind: str,
                     ) -> tuple[ServiceDefinition, TimedHandler]:
    if kind == "bulk":
        handler = bulk_handler(topics.outbound)
    elif kind == "per-event":
        handler = make_handler(SampleTopics(topics.inbound, topics.outbound))
    else:
        raise ValueError(f"unknown handler {kind!r}; choose from {HANDLERS}")
    timed = TimedHandler(handler)
    definition = ServiceDefinition(
        name="bench",
        consumers=[ConsumerSpec(consumer, [topics.inbound], timed)],
        migrations=[SAMPLE_TABLES],
        topics=[topics.inbound, topics.outbound],
        dead_letters=topics.dead_letters,
    )
    return definition, timed
