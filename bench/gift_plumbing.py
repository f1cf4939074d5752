"""The plumbing limit of the gift path: the Kafka and PostgreSQL work of N gifts without the
services, done as fast as aiokafka and asyncpg alone do it.

Three processes start together (a barrier) once each has prepared, and run at the same time,
as the services do:

* **produce**: every record the gifts put on the gift path's topics (the requests, gifting's,
  the wallet's and payout's outputs: the same bytes and keys, read back beforehand) produced
  again onto the same topics with the relay's producer settings (idempotent, acks=all,
  linger 1 ms), in rounds of RELAY_ROUND records as the relay sends them;
* **consume**: what each service consumed of those records (its input topics among them),
  read by one consumer per service with the services' batch size, all three at once;
* **database**: per service, as many transactions as it committed batches, each writing as
  many rows as its batches wrote on average (inserted, updated and deleted rows as
  PostgreSQL's statistics counted them) in one `unnest` insert into a keyed table of its own.

Plumbing gifts/s = N / (first process started -> last one done). Nothing is decoded or decided.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import Any

import asyncpg
from aiokafka import TopicPartition

from shared import kafka_client
from shared.runtime.migrate import quote_schema

RELAY_ROUND = 1000
"""OutboxRelay's default batch_size: records sent before waiting for their acknowledgement."""
FETCH_RECORDS = 500
"""The services' COINLOG_BATCH_MAX_RECORDS default."""
START_TIMEOUT_S = 120.0

Ranges = dict[tuple[str, int], tuple[int, int]]
"""(topic, partition) -> [first offset, end offset) of the measured gifts' records."""


@dataclass(frozen=True)
class Writes:
    """What one service wrote to PostgreSQL for the measured gifts."""

    service: str
    batches: int
    rows: int

    @property
    def rows_per_batch(self) -> int:
        return max(1, round(self.rows / self.batches)) if self.batches else 0


@dataclass(frozen=True)
class PartResult:
    part: str
    units: int
    """Records produced or consumed, rows written."""
    started: float
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass(frozen=True)
class Plumbing:
    gifts: int
    parts: tuple[PartResult, ...]

    @property
    def seconds(self) -> float:
        return max(p.ended for p in self.parts) - min(p.started for p in self.parts)

    @property
    def gifts_per_s(self) -> float:
        return self.gifts / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"gifts": self.gifts, "seconds": round(self.seconds, 3),
                "gifts_per_s": round(self.gifts_per_s, 1),
                "parts": {p.part: {"units": p.units, "seconds": round(p.seconds, 3),
                                   "gifts_per_s": round(self.gifts / p.seconds, 1)
                                   if p.seconds else None} for p in self.parts}}


async def _read_records(bootstrap: str, ranges: Ranges) -> list[tuple[str, bytes | None,
                                                                      bytes | None]]:
    consumer = kafka_client.consumer(bootstrap_servers=bootstrap, group_id=None,
                                     enable_auto_commit=False, max_partition_fetch_bytes=8 << 20)
    await consumer.start()
    records = []
    try:
        wanted = {TopicPartition(*where): span for where, span in ranges.items()
                  if span[1] > span[0]}
        consumer.assign(list(wanted))
        for tp, (first, _) in wanted.items():
            consumer.seek(tp, first)
        while wanted:
            for tp, batch in (await consumer.getmany(*wanted, timeout_ms=1000)).items():
                end = wanted[tp][1]
                records += [(tp.topic, r.key, r.value) for r in batch if r.offset < end]
                if batch and batch[-1].offset + 1 >= end:
                    del wanted[tp]
                    consumer.pause(tp)
    finally:
        await consumer.stop()
    return records


async def _produce(bootstrap: str, records: Sequence[tuple[str, bytes | None, bytes | None]]
                   ) -> int:
    producer = kafka_client.producer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                     acks="all", linger_ms=1)
    await producer.start()
    try:
        for first in range(0, len(records), RELAY_ROUND):
            deliveries = [await producer.send(topic, value=value, key=key)
                          for topic, key, value in records[first:first + RELAY_ROUND]]
            await asyncio.gather(*deliveries)
    finally:
        await producer.stop()
    return len(records)


async def _consume_one(bootstrap: str, ranges: Ranges) -> int:
    consumer = kafka_client.consumer(bootstrap_servers=bootstrap, group_id=None,
                                     enable_auto_commit=False)
    await consumer.start()
    count = 0
    try:
        wanted = {TopicPartition(*where): span for where, span in ranges.items()
                  if span[1] > span[0]}
        consumer.assign(list(wanted))
        for tp, (first, _) in wanted.items():
            consumer.seek(tp, first)
        while wanted:
            fetched = await consumer.getmany(*wanted, timeout_ms=1000,
                                             max_records=FETCH_RECORDS)
            for tp, batch in fetched.items():
                end = wanted[tp][1]
                count += sum(1 for r in batch if r.offset < end)
                if batch and batch[-1].offset + 1 >= end:
                    del wanted[tp]
                    consumer.pause(tp)
    finally:
        await consumer.stop()
    return count


async def _consume(bootstrap: str, by_service: Mapping[str, Ranges]) -> int:
    counts = await asyncio.gather(*(_consume_one(bootstrap, ranges)
                                    for ranges in by_service.values()))
    return sum(counts)


async def _prepare_tables(database_url: str, schema: str, writes: Sequence[Writes]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_schema(schema)}")
        for write in writes:
            await conn.execute(f"CREATE TABLE {quote_schema(schema)}.{write.service}"
                               " (key text PRIMARY KEY, payload text NOT NULL)")
    finally:
        await conn.close()


async def _write_one(database_url: str, schema: str, write: Writes, row_bytes: int) -> int:
    conn = await asyncpg.connect(database_url)
    payload = ["x" * row_bytes] * write.rows_per_batch
    statement = (f"INSERT INTO {quote_schema(schema)}.{write.service} (key, payload)"
                 " SELECT * FROM unnest($1::text[], $2::text[])")
    prefix = uuid.uuid4().hex
    try:
        for batch in range(write.batches):
            keys = [f"{prefix}-{batch}-{row}" for row in range(write.rows_per_batch)]
            async with conn.transaction():
                await conn.execute(statement, keys, payload)
    finally:
        await conn.close()
    return write.batches * write.rows_per_batch


async def _write(database_url: str, schema: str, writes: Sequence[Writes],
                 row_bytes: int) -> int:
    rows = await asyncio.gather(*(_write_one(database_url, schema, write, row_bytes)
                                  for write in writes))
    return sum(rows)


def _run_part(part: str, job: dict, barrier: Barrier, results: multiprocessing.Queue) -> None:
    """One process: prepare untimed, wait for the others, then do the part and report it."""
    if part == "produce":
        records = asyncio.run(_read_records(job["bootstrap"], job["produced"]))
    elif part == "database":
        asyncio.run(_prepare_tables(job["database_url"], job["schema"], job["writes"]))
    barrier.wait(START_TIMEOUT_S)
    started = time.time()
    if part == "produce":
        units = asyncio.run(_produce(job["bootstrap"], records))
    elif part == "consume":
        units = asyncio.run(_consume(job["bootstrap"], job["consumed"]))
    else:
        units = asyncio.run(_write(job["database_url"], job["schema"], job["writes"],
                                   job["row_bytes"]))
    results.put(PartResult(part, units, started, time.time()))


def measure(*, gifts: int, bootstrap: str, database_url: str, schema: str, produced: Ranges,
            consumed: Mapping[str, Ranges], writes: Sequence[Writes],
            row_bytes: int) -> Plumbing:
    """Blocking: run the three parts in processes of their own and wait for them."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    results: multiprocessing.Queue = context.Queue()
    job = {"bootstrap": bootstrap, "database_url": database_url, "schema": schema,
           "produced": produced, "consumed": dict(consumed), "writes": list(writes),
           "row_bytes": row_bytes}
    processes = [context.Process(target=_run_part, args=(part, job, barrier, results),
                                 name=f"plumbing-{part}", daemon=True)
                 for part in ("produce", "consume", "database")]
    for process in processes:
        process.start()
    try:
        parts = _collect(processes, results)
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
    return Plumbing(gifts, tuple(sorted(parts, key=lambda p: p.part)))


def _collect(processes: Sequence[multiprocessing.process.BaseProcess],
             results: multiprocessing.Queue) -> list[PartResult]:
    """Every part's result; raise as soon as a part's process died without one."""
    parts: list[PartResult] = []
    while len(parts) < len(processes):
        try:
            parts.append(results.get(timeout=1.0))
        except queue.Empty:
            failed = [p.name for p in processes if p.exitcode not in (None, 0)]
            if failed:
                raise RuntimeError(f"plumbing part failed: {', '.join(failed)}") from None
    return parts
