"""Each gift request's way through the services, read off the output topics and matched by
request_id: when gifting decided it, when the wallet answered, when its outcome and its
DiamondsEarned were appended, and when this process saw them.

Two clocks, on purpose. Seen-times are time.monotonic() in this process (the publisher notes
when it handed each request to Kafka, the probe when an output arrived): that is the latency a
viewer sees. Append times are the records' Kafka timestamps (CreateTime, in ms: set by the
producer when the record is handed to it; for the services that is their outbox relay), which
split the way into hops. Every process runs on one machine, so both clocks agree.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer

from ops.kafka_partitions import partitions_of
from shared import kafka_client
from shared.contract.topics import GIFTS, PAYOUT_LEDGER, WALLET_LEDGER

OUTPUT_TOPICS = (GIFTS, WALLET_LEDGER, PAYOUT_LEDGER)
OUTCOMES = {"gifting.gift_sent": "sent", "gifting.gift_failed": "failed",
            "gifting.gift_rejected": "rejected"}
"""What the viewer sees in the end: delivered, refused by the wallet, refused by gifting."""
DECISIONS = ("gifting.gift_priced", "gifting.gift_rejected")
WALLET_ANSWERS = ("wallet.coins_spent", "wallet.spend_rejected")
EARNED = "payout.diamonds_earned"
REQUEST_ID = b'"request_id"'


@dataclass(slots=True)
class Trace:
    requested: float
    """time.monotonic() when the request was handed to Kafka."""
    decided_ms: int | None = None
    """GiftPriced or GiftRejected appended (gifting's decision)."""
    wallet_ms: int | None = None
    """CoinsSpent or SpendRejected appended (the wallet's answer)."""
    outcome: str | None = None
    outcome_ms: int | None = None
    outcome_seen: float | None = None
    earned_ms: int | None = None
    earned_seen: float | None = None


class GiftProbe:
    """Reads gifting.gifts, wallet.ledger and payout.ledger from their ends when started (before
    the first gift), so it sees every output of the run and nothing older."""

    def __init__(self, bootstrap_servers: str, requested_at: Mapping[str, float],
                 topic_prefix: str):
        self.bootstrap_servers = bootstrap_servers
        self.requested_at = requested_at
        self.topics = [topic_prefix + topic.name for topic in OUTPUT_TOPICS]
        self.traces: dict[str, Trace] = {}
        self.outcomes_seen: list[float] = []
        """Monotonic arrival of every final outcome, in arrival order: decided per second."""
        self.records = 0
        self.value_bytes = 0
        """Records of this run's requests read, and their size: how big a gift's rows are."""
        self.wall_offset = time.time() - time.monotonic()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        partitions = await partitions_of(self.bootstrap_servers, self.topics)
        self._consumer = kafka_client.consumer(bootstrap_servers=self.bootstrap_servers,
                                               group_id=None, enable_auto_commit=False)
        await self._consumer.start()
        self._consumer.assign(partitions)
        for partition, offset in (await self._consumer.end_offsets(partitions)).items():
            self._consumer.seek(partition, offset)
        self._task = asyncio.create_task(self._read(), name="gift-probe")

    async def stop(self) -> None:
        """Idempotent: the benchmark stops the probe before its last parts, and at the end."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=100, max_records=5000)
            arrived = time.monotonic()
            for records in batches.values():
                for record in records:
                    if record.value is not None and REQUEST_ID in record.value:
                        self.records += 1
                        self.value_bytes += len(record.value)
                        self.note(orjson.loads(record.value), record.timestamp, arrived)

    def note(self, payload: dict, appended_ms: int, arrived: float) -> None:
        """One output record of a request: its append time and when it was read."""
        request_id = payload.get("request_id")
        if not isinstance(request_id, str):
            return
        trace = self.traces.get(request_id)
        if trace is None:
            requested = self.requested_at.get(request_id)
            if requested is None:
                return  # not a request of this run
            trace = self.traces[request_id] = Trace(requested)
        kind = payload.get("type")
        if kind in DECISIONS and trace.decided_ms is None:
            trace.decided_ms = appended_ms
        elif kind in WALLET_ANSWERS and trace.wallet_ms is None:
            trace.wallet_ms = appended_ms
        elif kind == EARNED and trace.earned_ms is None:
            trace.earned_ms, trace.earned_seen = appended_ms, arrived
        if kind in OUTCOMES and trace.outcome is None:
            trace.outcome, trace.outcome_ms = OUTCOMES[kind], appended_ms
            trace.outcome_seen = arrived
            self.outcomes_seen.append(arrived)

    def settled(self, request_ids: Iterable[str]) -> bool:
        """Every request has its outcome, and every sent gift its DiamondsEarned."""
        for request_id in request_ids:
            trace = self.traces.get(request_id)
            if trace is None or trace.outcome is None:
                return False
            if trace.outcome == "sent" and trace.earned_ms is None:
                return False
        return True

    def decided_between(self, start: float, end: float) -> int:
        return (bisect.bisect_right(self.outcomes_seen, end)
                - bisect.bisect_left(self.outcomes_seen, start))


@dataclass(frozen=True)
class Spread:
    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    def as_json(self) -> dict[str, float | int | None]:
        return {"count": self.count, "p50_ms": _round(self.p50_ms),
                "p99_ms": _round(self.p99_ms), "max_ms": _round(self.max_ms)}


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def spread(values_ms: Sequence[float]) -> Spread:
    """Median, 99th percentile (nearest rank, as ops.latency) and maximum."""
    if not values_ms:
        return Spread(0, None, None, None)
    ordered = sorted(values_ms)
    middle = len(ordered) // 2
    median = (ordered[middle] if len(ordered) % 2
              else (ordered[middle - 1] + ordered[middle]) / 2)
    return Spread(len(ordered), median, ordered[math.ceil(len(ordered) * 0.99) - 1], ordered[-1])


HOPS = (
    ("request -> outcome seen", "published by the viewer -> GiftSent/GiftFailed/GiftRejected "
                                "read by the viewer"),
    ("request -> DiamondsEarned seen", "published -> DiamondsEarned read (sent gifts)"),
    ("request -> gifting decided", "request appended -> GiftPriced/GiftRejected appended"),
    ("gifting -> wallet", "GiftPriced appended -> CoinsSpent/SpendRejected appended"),
    ("wallet -> gift outcome", "CoinsSpent/SpendRejected appended -> GiftSent/GiftFailed "
                               "appended"),
    ("wallet -> DiamondsEarned", "CoinsSpent appended -> DiamondsEarned appended"),
    ("outcome appended -> seen", "outcome appended -> read by the viewer"),
)


def hop_spreads(traces: Iterable[Trace], wall_offset: float) -> dict[str, Spread]:
    """The latencies of HOPS over these traces (a hop counts only where both ends exist)."""
    values: dict[str, list[float]] = {name: [] for name, _ in HOPS}
    names = [name for name, _ in HOPS]
    for trace in traces:
        requested_ms = 1000 * (trace.requested + wall_offset)
        pairs = (
            (trace.requested, trace.outcome_seen, 1000.0),
            (trace.requested, trace.earned_seen, 1000.0),
            (requested_ms, trace.decided_ms, 1.0),
            (trace.decided_ms if trace.outcome != "rejected" else None, trace.wallet_ms, 1.0),
            (trace.wallet_ms if trace.outcome != "rejected" else None, trace.outcome_ms, 1.0),
            (trace.wallet_ms, trace.earned_ms, 1.0),
            (trace.outcome_ms, None if trace.outcome_seen is None
             else 1000 * (trace.outcome_seen + wall_offset), 1.0),
        )
        for name, (start, end, scale) in zip(names, pairs, strict=True):
            if start is not None and end is not None:
                values[name].append((end - start) * scale)
    return {name: spread(found) for name, found in values.items()}
