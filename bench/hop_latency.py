"""How long one hop through the runtime takes at a steady offered rate.

    python -m bench.hop_latency [--rate 100] [--seconds 20] [--handler bulk] [--partitions 6]

The bench service (bench/app.py) runs as an OS process of its own with the services' default
settings (batches of up to 500 records, 50 ms batch timeout). This process offers it
PurchaseCompleted events open loop (every 10 ms whatever is due since the start) with a
producer that does not linger, and reads the output topic. A **hop** is the output record's
Kafka CreateTime (the relay handing it to its producer) minus the input record's (this process
handing it to its producer), as bench.gift_path measures its hops; **seen** is from before the
send to the output read back here (monotonic clock), so it adds the output's delivery and this
process's fetch. A warm-up of a few events, not counted, waits until the service has joined its
group. Mean batch and transaction time come from the service's /metrics.

Prints one table and one line `RESULT {json}`. Topics and schema are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any, Self

import asyncpg
import orjson
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from bench.app import BenchTopics, bench_definition
from bench.machine import MachineCpu
from ops.services import free_port
from shared import kafka_client
from shared.runtime.kafka_admin import ensure_topics
from shared.runtime.service import ServiceProcess
from shared.settings import Settings
from tests.integration.events import purchase

console = Console(stderr=True, soft_wrap=True)
TICK_S = 0.01
WARM_UP_EVENTS = 12


def _service_settings(base: Settings, schema: str, port: int) -> Settings:
    return Settings(KAFKA_BOOTSTRAP_SERVERS=base.kafka_bootstrap_servers,
                    DATABASE_URL=base.database_url, COINLOG_DB_SCHEMA=schema,
                    COINLOG_HTTP_PORT=port, COINLOG_INSTANCE_ID="hop-bench",
                    COINLOG_TOPIC_PREFIX="")


async def serve(args: argparse.Namespace) -> None:
    """The child: the bench service until SIGTERM."""
    topics = BenchTopics.named(args.suffix, args.partitions)
    definition, _ = bench_definition(topics, f"bench-{args.suffix}", args.handler)
    process = ServiceProcess(definition, _service_settings(Settings(), args.schema, args.port))
    await process.run_until_signalled()


def _scrape(port: int) -> dict[str, float]:
    wanted = ("coinlog_batch_duration_seconds_sum", "coinlog_batch_duration_seconds_count",
              "coinlog_events_applied_total")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    values = dict.fromkeys(wanted, 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in values:
                values[sample.name] += sample.value
    return values


class Probe:
    """Offers events and matches each output to its input by purchase id."""

    def __init__(self, bootstrap: str, topics: BenchTopics):
        self.topics = topics
        self.producer = kafka_client.producer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                              linger_ms=0)
        self.consumer = kafka_client.consumer(topics.outbound.name, bootstrap_servers=bootstrap,
                                              group_id=None, auto_offset_reset="latest",
                                              fetch_max_wait_ms=100)
        self.sent_at: dict[str, tuple[float, int]] = {}
        """purchase id -> (monotonic before the send, the input's CreateTime)."""
        self.hops_ms: dict[str, int] = {}
        self.seen_ms: dict[str, float] = {}
        self._reader: asyncio.Task | None = None

    async def __aenter__(self) -> Self:
        await self.producer.start()
        await self.consumer.start()
        await self.consumer.getmany(timeout_ms=100)  # positioned at the ends before any send
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self.consumer.stop()
        await self.producer.stop()

    async def _read(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=1000)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    purchase_id = orjson.loads(record.value)["purchase_id"]
                    sent = self.sent_at.get(purchase_id)
                    if sent and purchase_id not in self.hops_ms:
                        self.seen_ms[purchase_id] = (now - sent[0]) * 1000
                        self.hops_ms[purchase_id] = record.timestamp - sent[1]

    async def offer(self, count: int, user: int) -> list[str]:
        events = [purchase(f"user-{(user + i) % 1000}", 1 + i % 50) for i in range(count)]
        started = time.monotonic()
        deliveries = [(event.purchase_id, started, await self.producer.send(
            self.topics.inbound.name, value=event.model_dump_json().encode(),
            key=event.key.encode())) for event in events]
        for purchase_id, began, delivery in deliveries:
            self.sent_at[purchase_id] = (began, (await delivery).timestamp)
        return [purchase_id for purchase_id, _, _ in deliveries]

    async def wait_for(self, purchase_ids: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while any(purchase_id not in self.hops_ms for purchase_id in purchase_ids):
            if time.monotonic() > deadline:
                missing = sum(1 for p in purchase_ids if p not in self.hops_ms)
                raise TimeoutError(f"{missing} of {len(purchase_ids)} outputs not seen")
            await asyncio.sleep(0.05)


async def drive(probe: Probe, rate: float, seconds: float) -> list[str]:
    """Open loop: every tick, whatever is due since the start, so a slow moment is caught up."""
    offered = 0
    sends = []
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        due = int(elapsed * rate) - offered
        if due > 0:
            sends.append(asyncio.create_task(probe.offer(due, WARM_UP_EVENTS + offered)))
            offered += due
        await asyncio.sleep(TICK_S)
    return [purchase_id for ids in await asyncio.gather(*sends) for purchase_id in ids]


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": ordered[-1],
            "mean": statistics.fmean(ordered)}


async def measure(args: argparse.Namespace, base: Settings, topics: BenchTopics,
                  port: int) -> dict[str, Any]:
    async with Probe(base.kafka_bootstrap_servers, topics) as probe:
        await probe.wait_for(await probe.offer(WARM_UP_EVENTS, 0), timeout_s=60)
        before = await asyncio.to_thread(_scrape, port)
        machine = MachineCpu()
        offered = await drive(probe, args.rate, args.seconds)
        await probe.wait_for(offered, timeout_s=120)
        busy = machine.busy()
        after = await asyncio.to_thread(_scrape, port)
    batches = (after["coinlog_batch_duration_seconds_count"]
               - before["coinlog_batch_duration_seconds_count"])
    txn_s = (after["coinlog_batch_duration_seconds_sum"]
             - before["coinlog_batch_duration_seconds_sum"])
    applied = after["coinlog_events_applied_total"] - before["coinlog_events_applied_total"]
    return {
        "rate": args.rate, "seconds": args.seconds, "events": len(offered),
        "handler": args.handler, "partitions": args.partitions,
        "hop_ms": _percentiles([float(probe.hops_ms[p]) for p in offered]),
        "seen_ms": _percentiles([probe.seen_ms[p] for p in offered]),
        "batches": int(batches), "mean_batch": applied / batches if batches else None,
        "txn_ms_mean": 1000 * txn_s / batches if batches else None,
        "machine_cpu": busy,
    }


async def cleanup(base: Settings, topics: BenchTopics, schema: str) -> None:
    with contextlib.suppress(Exception):
        conn = await asyncpg.connect(base.database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
    admin = kafka_client.admin(bootstrap_servers=base.kafka_bootstrap_servers)
    with contextlib.suppress(Exception):
        await admin.start()
        await admin.delete_topics([topic.name for topic in topics.all])
    await admin.close()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    base = Settings()
    suffix = uuid.uuid4().hex[:8]
    schema = f"bench_hop_{suffix}"
    topics = BenchTopics.named(f"hop-{suffix}", args.partitions)
    port = free_port()
    await ensure_topics(base.kafka_bootstrap_servers, topics.all)
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.hop_latency", "serve", "--suffix", f"hop-{suffix}",
         "--schema", schema, "--handler", args.handler, "--partitions", str(args.partitions),
         "--port", str(port)],
        env={**os.environ, "COINLOG_LOG_LEVEL": "WARNING"})
    try:
        return await measure(args, base, topics, port)
    finally:
        child.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=45)
        await cleanup(base, topics, schema)


def print_result(result: dict[str, Any]) -> None:
    table = Table(title=f"one hop at {result['rate']:g} events/s ({result['events']} events, "
                        f"{result['handler']} handler, {result['partitions']} partitions)")
    for column in ("", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms"):
        table.add_column(column, justify="right" if column else "left")
    for name in ("hop_ms", "seen_ms"):
        spread = result[name]
        table.add_row("input appended -> output appended" if name == "hop_ms"
                      else "before the send -> output seen",
                      *(f"{spread[key]:.1f}" for key in ("p50", "p90", "p99", "max", "mean")))
    console.print(table)
    console.print(f"batches {result['batches']}, mean batch {result['mean_batch'] or 0:.1f}, "
                  f"txn {result['txn_ms_mean'] or 0:.2f} ms, machine "
                  f"{(result['machine_cpu'] or 0):.0%} busy", highlight=False)
    print("RESULT " + json.dumps(result))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.hop_latency", description=__doc__
                                     .split("\n")[0])
    parser.add_argument("mode", nargs="?", default="measure", choices=("measure", "serve"))
    parser.add_argument("--rate", type=float, default=100.0, help="events/s (default 100)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--handler", default="bulk", choices=("bulk", "per-event"))
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--suffix", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    logging.basicConfig(level=logging.WARNING)
    if arguments.mode == "serve":
        asyncio.run(serve(arguments))
    else:
        print_result(asyncio.run(main(arguments)))
