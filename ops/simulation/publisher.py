"""Publishing the simulation's events onto their topics, as the outside systems would."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable

from shared import kafka_client
from shared.contract.codec import encode
from shared.contract.envelope import Event
from shared.contract.events.streams import GiftRequested
from shared.contract.topics import topic_of

MAX_UNCONFIRMED = 2000
"""Sends in flight before the publisher waits for Kafka's acknowledgements: a delivery error
surfaces within a moment instead of at the end of the run."""


class Publisher:
    def __init__(self, bootstrap_servers: str, topic_prefix: str = ""):
        self.topic_prefix = topic_prefix
        self._producer = kafka_client.producer(bootstrap_servers=bootstrap_servers,
                                               enable_idempotence=True, linger_ms=5)
        self._unconfirmed: list[asyncio.Future] = []
        self.published: Counter[str] = Counter()
        """Events handed to Kafka, by event type."""
        self.gift_requested_at: dict[str, float] = {}
        """time.monotonic() at which each gift request was handed to Kafka, by request_id:
        where the end-to-end latency of a gift starts."""

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        try:
            await self.flush()
        finally:
            await self._producer.stop()

    async def publish(self, event: Event) -> None:
        topic = self.topic_prefix + topic_of(event).name
        if isinstance(event, GiftRequested):
            self.gift_requested_at[event.request_id] = time.monotonic()
        delivery = await self._producer.send(topic, encode(event), key=event.key.encode())
        self._unconfirmed.append(delivery)
        self.published[event.type] += 1
        if len(self._unconfirmed) >= MAX_UNCONFIRMED:
            await self.flush()

    async def publish_all(self, events: Iterable[Event]) -> None:
        for event in events:
            await self.publish(event)
        await self.flush()

    async def flush(self) -> None:
        """Wait until Kafka acknowledged everything published so far; raise its error if not."""
        unconfirmed, self._unconfirmed = self._unconfirmed, []
        if unconfirmed:
            await asyncio.gather(*unconfirmed)
