"""A small service on the real runtime, for testing the runtime itself.

It credits purchases into a balance table, logs every application (so a double application is
visible as a repeated event id) and emits one derived event per purchase.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from shared.contract.events.deadletter import EventDeadLettered
from shared.contract.events.payments import PurchaseCompleted
from shared.contract.events.wallet import CoinsPurchased
from shared.contract.topics import LOG_APPEND_TIME, Topic
from shared.runtime.migrate import Migration
from shared.runtime.service import ConsumerSpec, ServiceDefinition
from shared.runtime.unit import Inbound, Unit

SAMPLE_TABLES = Migration("sample", 1, "0001_sample.sql", """
CREATE TABLE applied_log (seq bigserial PRIMARY KEY, event_id uuid NOT NULL,
                          user_id text NOT NULL, coins bigint NOT NULL,
                          applied_by text NOT NULL DEFAULT current_setting('application_name'));
CREATE TABLE balances (user_id text PRIMARY KEY, coins bigint NOT NULL);
""")


@dataclass(frozen=True)
class SampleTopics:
    inbound: Topic
    outbound: Topic

    @classmethod
    def named(cls, suffix: str, partitions: int = 3) -> SampleTopics:
        return cls(
            Topic(f"it.{suffix}.purchases", "tests", "user_id", partitions, (PurchaseCompleted,),
                  config=LOG_APPEND_TIME),
            Topic(f"it.{suffix}.credited", "tests", "user_id", partitions, (CoinsPurchased,)),
        )


def make_handler(topics: SampleTopics, before_commit=None):
    async def handle(unit: Unit, events: Sequence[Inbound]) -> None:
        for index, inbound in enumerate(events):
            event = inbound.event
            assert isinstance(event, PurchaseCompleted)
            await unit.conn.execute(
                "INSERT INTO applied_log (event_id, user_id, coins) VALUES ($1, $2, $3)",
                event.event_id, event.user_id, event.coins)
            balance = await unit.conn.fetchval(
                """INSERT INTO balances (user_id, coins) VALUES ($1, $2)
                   ON CONFLICT (user_id) DO UPDATE SET coins = balances.coins + EXCLUDED.coins
                   RETURNING coins""", event.user_id, event.coins)
            if event.package_id == "poison":
                raise RuntimeError("this package crashes the handler")
            if event.package_id == "stall":
                await asyncio.Event().wait()  # a handler that never finishes: a stuck consumer
            unit.emit(event.caused(
                CoinsPurchased, "credited", user_id=event.user_id, purchase_id=event.purchase_id,
                coins=event.coins, amount_minor=event.amount_minor, currency=event.currency,
                rate_version=event.rate_version, balance_after=balance,
            ), topic=topics.outbound, cause=inbound)
            if before_commit is not None:
                await before_commit(index, len(events))

    return handle


def sample_definition(topics: SampleTopics, before_commit=None) -> ServiceDefinition:
    return ServiceDefinition(
        name="sample",
        consumers=[ConsumerSpec("sample", [topics.inbound], make_handler(topics, before_commit))],
        migrations=[SAMPLE_TABLES],
        topics=[topics.inbound, topics.outbound],
    )


def sample_dead_letters(suffix: str) -> Topic:
    return Topic(f"it.{suffix}.dead-letter", "tests", "consumer", 1, (EventDeadLettered,))
