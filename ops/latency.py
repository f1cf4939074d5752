"""End-to-end latency of gifts: from the gift request handed to Kafka to its DiamondsEarned on
payout.ledger, the last event of a delivered gift.

Event times are simulated, so both ends are measured with time.monotonic() in this process:
the publisher notes when each request left, and this probe notes when its earning arrived. The
probe reads payout.ledger from the end offsets taken when it starts (before the first gift), so
it sees every earning of the run and nothing older.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from ops.kafka_partitions import partitions_of
from shared import kafka_client
from shared.contract.topics import PAYOUT_LEDGER

EARNED_TYPE = b'"payout.diamonds_earned"'


@dataclass(frozen=True)
class LatencySummary:
    count: int
    median_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class LatencyProbe:
    def __init__(self, bootstrap_servers: str, requested_at: Mapping[str, float],
                 topic_prefix: str = ""):
        self.topic = topic_prefix + PAYOUT_LEDGER.name
        self.bootstrap_servers = bootstrap_servers
        self.requested_at = requested_at
        self.latency_s: dict[str, float] = {}
        self._consumer = kafka_client.consumer(bootstrap_servers=bootstrap_servers, group_id=None,
                                               enable_auto_commit=False)
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        partitions = await partitions_of(self.bootstrap_servers, [self.topic])
        await self._consumer.start()
        self._consumer.assign(partitions)
        for partition, offset in (await self._consumer.end_offsets(partitions)).items():
            self._consumer.seek(partition, offset)
        self._task = asyncio.create_task(self._read(), name="latency-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _read(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            arrived = time.monotonic()
            for records in batches.values():
                for record in records:
                    if record.value is None or EARNED_TYPE not in record.value:
                        continue
                    request_id = orjson.loads(record.value).get("request_id")
                    sent = self.requested_at.get(request_id)
                    if sent is not None and request_id not in self.latency_s:
                        self.latency_s[request_id] = arrived - sent

    def summary(self) -> LatencySummary:
        values = sorted(self.latency_s.values())
        if not values:
            return LatencySummary(0, None, None, None)
        p99 = values[math.ceil(len(values) * 0.99) - 1]  # nearest rank
        return LatencySummary(len(values), 1000 * statistics.median(values), 1000 * p99,
                              1000 * values[-1])
