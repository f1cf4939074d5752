"""Events per second through the whole runtime, next to what aiokafka alone reads.

    python -m bench.runtime_throughput [--events 20000] [--batch-sizes 1,100,1000]

For every batch size (COINLOG_BATCH_MAX_RECORDS) and handler, on a fresh topic pair and a fresh
schema, with a backlog of N events published beforehand:

1. raw: an AIOKafkaConsumer reads the input topic from the beginning with
   getmany(max_records=<batch size>), once without decoding and once decoding every record
   with shared.contract.codec.decode (the processor's decoding);
2. runtime: a ServiceProcess in this process (as the integration tests run it) consumes the
   backlog, applies it in one transaction per batch and its relay publishes the outbox.

Rates are measured from the moment the first records are in hand (for the runtime: the start
of the first batch's transaction) to the last record read (raw), the last event applied, and
the last output event acknowledged by Kafka and deleted from the outbox (end to end). Progress
is read from the runtime's own Prometheus metrics by polling; the runtime is not patched (only
the diagnostic --no-relay replaces the relay task of the one ServiceProcess it starts).

Prints a rich table and one line `RESULT {json}`. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import logging
import os
import platform
import pstats
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiokafka import TopicPartition
from rich.console import Console
from rich.table import Table

from bench.app import HANDLERS, BenchTopics, bench_definition
from bench.machine import MachineCpu, postgres_version
from shared import kafka_client
from shared.contract.codec import decode
from shared.contract.topics import Topic
from shared.runtime import metrics
from shared.runtime.kafka_admin import ensure_topics
from shared.runtime.service import ServiceProcess
from shared.settings import Settings
from tests.integration.events import publish, purchase

log = logging.getLogger("bench")
console = Console(stderr=True, soft_wrap=True)
ACCESS_LOGGER = "faststream.access.kafka"


class _ErrorsOnly(logging.Filter):
    """FastStream's access logger writes to stdout; keep only its errors there."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


@dataclass
class RawRate:
    decode: bool
    max_records: int
    events: int
    seconds: float
    """From the first getmany that returned records to the last record read (and decoded)."""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class RuntimeRun:
    handler: str
    batch_max: int
    events: int
    startup_s: float = 0.0
    """ServiceProcess.start() called -> first batch's transaction began (group join etc.)."""
    applied_s: float = 0.0
    """First batch began -> all N applied (committed)."""
    drained_s: float = 0.0
    """First batch began -> all N output events acknowledged by Kafka, outbox empty."""
    total_s: float = 0.0
    """ServiceProcess.start() called -> drained."""
    batches: int = 0
    txn_seconds: float = 0.0
    """Sum of BatchProcessor.process() times (coinlog_batch_duration_seconds) until all were
    applied."""
    handler_seconds: float = 0.0
    retries: int = 0
    redelivered: int = 0
    """coinlog_events_skipped_total{reason="redelivered"}: records skipped as already applied.
    Undercounts: a batch that is redelivered whole returns before the processor counts it."""
    python_cpu: float = 0.0
    """CPU time of this (single-threaded asyncio) process / wall time, start -> drained."""
    machine_cpu: float | None = None
    """Share of all CPUs busy on the machine (Kafka, PostgreSQL, this process, others)."""
    relay: bool = True
    background_cpu: float | None = None
    """Share of all CPUs busy during 1 s before the run: others' load on a shared machine."""
    repeats: list[dict[str, float | None]] = field(default_factory=list)
    """applied and e2e rates of every repetition (--repeat); this run is the median one."""
    raw_consume: RawRate | None = None
    raw_decode: RawRate | None = None
    checks: dict[str, object] = field(default_factory=dict)

    @property
    def applied_rate(self) -> float:
        return self.events / self.applied_s

    @property
    def e2e_rate(self) -> float | None:
        return self.events / self.drained_s if self.relay else None

    @property
    def from_start_rate(self) -> float:
        return self.events / self.total_s

    @property
    def mean_batch(self) -> float:
        return self.events / self.batches if self.batches else 0.0

    @property
    def txn_busy(self) -> float:
        """Share of the applying window spent inside batch transactions."""
        return self.txn_seconds / self.applied_s if self.applied_s else 0.0

    @property
    def txn_ms(self) -> float:
        return 1000 * self.txn_seconds / self.batches if self.batches else 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "handler": self.handler, "batch_max_records": self.batch_max, "events": self.events,
            "applied_events_per_s": round(self.applied_rate, 1),
            "e2e_events_per_s": round(self.e2e_rate, 1) if self.e2e_rate else None,
            "from_start_events_per_s": round(self.from_start_rate, 1),
            "startup_s": round(self.startup_s, 3), "applied_s": round(self.applied_s, 3),
            "drained_s": round(self.drained_s, 3), "total_s": round(self.total_s, 3),
            "batches": self.batches, "mean_batch": round(self.mean_batch, 1),
            "txn_ms_mean": round(self.txn_ms, 3), "txn_busy": round(self.txn_busy, 3),
            "handler_share_of_txn": round(self.handler_seconds / self.txn_seconds, 3)
            if self.txn_seconds else None,
            "retries": self.retries, "redelivered": self.redelivered, "relay": self.relay,
            "python_cpu": round(self.python_cpu, 3),
            "machine_cpu": round(self.machine_cpu, 3) if self.machine_cpu is not None else None,
            "background_cpu": round(self.background_cpu, 3)
            if self.background_cpu is not None else None,
            "raw_consume_events_per_s": round(self.raw_consume.rate, 1)
            if self.raw_consume else None,
            "raw_consume_decode_events_per_s": round(self.raw_decode.rate, 1)
            if self.raw_decode else None,
            "checks": self.checks,
            "repeats": self.repeats,
        }


# ------------------------------------------------------------------------------ helpers

def _value(child) -> float:
    """Current value of a prometheus_client Counter child (in-process, no scrape)."""
    return child._value.get()  # noqa: SLF001 - polled; collect() copies all


def _histogram(child) -> tuple[float, int]:
    total, buckets = child._sum, child._buckets  # noqa: SLF001 - polled; collect() copies all
    return total.get(), int(sum(bucket.get() for bucket in buckets))


async def _end_offsets(bootstrap: str, topic: Topic) -> int:
    consumer = kafka_client.consumer(bootstrap_servers=bootstrap, group_id=None,
                                     enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        ends = await consumer.end_offsets(partitions)
        return sum(ends.values())
    finally:
        await consumer.stop()


async def _never_publish() -> None:
    """Stands in for OutboxRelay.run with --no-relay (a diagnostic: apply only)."""
    await asyncio.Event().wait()


async def _wait_until_quiet(below: float, timeout_s: float) -> float | None:
    """On a shared machine, wait (bounded) for a 1 s window in which less than `below` of all
    CPUs were busy; return the busy share of the last window (the load around the run)."""
    deadline = time.perf_counter() + timeout_s
    while True:
        window = MachineCpu()
        await asyncio.sleep(1.0)  # the measurement window
        busy = window.busy()
        if busy is None or busy < below:
            return busy
        if time.perf_counter() > deadline:
            console.print(f"  [yellow]machine still {busy:.0%} busy after {timeout_s:.0f}s; "
                          "running anyway[/yellow]", highlight=False)
            return busy
        console.print(f"  waiting for a quiet machine ({busy:.0%} busy)", highlight=False)


# ------------------------------------------------------------------------------ raw aiokafka

async def raw_consume(bootstrap: str, topic: Topic, expect: int, *, max_records: int,
                      decode_records: bool, timeout_s: float) -> RawRate:
    consumer = kafka_client.consumer(bootstrap_servers=bootstrap, group_id=None,
                                     enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        count = 0
        first: float | None = None
        deadline = time.perf_counter() + timeout_s
        while count < expect:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"raw consumer read {count} of {expect} from {topic.name}")
            batch = await consumer.getmany(timeout_ms=200, max_records=max_records)
            if batch and first is None:
                first = time.perf_counter()
            for records in batch.values():
                if decode_records:
                    for record in records:
                        decode(topic, record.value)
                count += len(records)
        finished = time.perf_counter()
    finally:
        await consumer.stop()
    return RawRate(decode_records, max_records, count, finished - (first or finished))


# ------------------------------------------------------------------------------ the runtime

async def run_runtime(args, base: Settings, topics: BenchTopics, schema: str, consumer: str,
                      handler_kind: str, batch: int, n: int) -> RuntimeRun:
    definition, timed = bench_definition(topics, consumer, handler_kind)
    settings = Settings(
        KAFKA_BOOTSTRAP_SERVERS=base.kafka_bootstrap_servers, DATABASE_URL=base.database_url,
        COINLOG_DB_SCHEMA=schema, COINLOG_HTTP_PORT=-1, COINLOG_BATCH_MAX_RECORDS=batch,
        COINLOG_INSTANCE_ID="bench", COINLOG_BATCH_TIMEOUT_MS=base.batch_timeout_ms,
        COINLOG_DB_POOL_SIZE=base.db_pool_size,
        # The bench's topic names are unique already; it creates, reads and deletes them as
        # named, so no COINLOG_TOPIC_PREFIX from the environment may move the service away.
        COINLOG_TOPIC_PREFIX="",
    )
    applied = metrics.EVENTS_APPLIED.labels(consumer)
    published = metrics.OUTBOX_PUBLISHED.labels(schema)
    batch_seconds = metrics.BATCH_SECONDS.labels(consumer)
    run = RuntimeRun(handler_kind, batch, n)
    interval_s = args.poll_ms / 1000
    process = ServiceProcess(definition, settings)
    if args.no_relay:
        process.relay.run = _never_publish  # type: ignore[method-assign]  # a run without a relay
    profiler = cProfile.Profile() if args.profile else None
    machine = MachineCpu()
    cpu_started = time.process_time()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    try:
        await process.start()
        if not args.access_log:
            # FastStream's broker logger logs two INFO lines per batch to stdout ("Received",
            # "Processed"); it resets its level to INFO on start, so raise it after.
            logging.getLogger(ACCESS_LOGGER).setLevel(logging.ERROR)
        first: float | None = None
        applied_at: float | None = None
        txn_at_applied = 0.0
        batches_at_applied = 0
        deadline = started + args.timeout
        while True:
            now = time.perf_counter()
            done = _value(applied)
            if first is None and done > 0:
                # The first batch(es) committed just now; they began this long ago.
                first = now - _histogram(batch_seconds)[0]
            if applied_at is None and done >= n:
                applied_at = now
                txn_at_applied, batches_at_applied = _histogram(batch_seconds)
            if applied_at is not None and (args.no_relay or _value(published) >= n):
                drained_at = now
                break
            if now > deadline:
                raise TimeoutError(
                    f"{handler_kind}/batch {batch}: after {args.timeout:.0f}s applied "
                    f"{done:.0f} of {n}, published {_value(published):.0f}")
            await asyncio.sleep(interval_s)
    finally:
        if profiler:
            profiler.disable()
        cpu_seconds = time.process_time() - cpu_started
        machine_busy = machine.busy()
        await process.stop()
    assert first is not None and applied_at is not None
    run.startup_s = first - started
    run.applied_s = applied_at - first
    run.drained_s = drained_at - first
    run.total_s = drained_at - started
    run.txn_seconds = txn_at_applied
    run.batches = batches_at_applied
    run.handler_seconds = timed.seconds
    run.python_cpu = cpu_seconds / run.total_s
    run.machine_cpu = machine_busy
    run.relay = not args.no_relay
    run.retries = int(sum(_value(metrics.BATCH_RETRIES.labels(consumer, reason))
                          for reason in ("transient", "handler_error")))
    run.redelivered = int(_value(metrics.EVENTS_SKIPPED.labels(consumer, "redelivered")))
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(args.profile_sort)
        stats.print_stats(args.profile_top)
        console.print(f"[bold]profile {handler_kind} / batch {batch}[/bold]", highlight=False)
        print(out.getvalue(), file=sys.stderr)
    return run


async def verify(base: Settings, topics: BenchTopics, schema: str, events,
                 relay: bool) -> dict[str, object]:
    """Every event applied once, the outbox empty, every output on Kafka, nothing dead.

    Without the relay (--no-relay) every output must still be in the outbox instead."""
    conn = await asyncpg.connect(base.database_url, server_settings={"search_path": schema})
    try:
        applied, distinct = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT event_id) FROM applied_log")
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
        coins = await conn.fetchval("SELECT coalesce(sum(coins), 0) FROM balances")
    finally:
        await conn.close()
    checks = {
        "applied_rows": applied, "distinct_applied": distinct, "outbox_left": outbox,
        "coins_ok": coins == sum(event.coins for event in events),
        "output_records": await _end_offsets(base.kafka_bootstrap_servers, topics.outbound),
        "dead_letters": await _end_offsets(base.kafka_bootstrap_servers, topics.dead_letters),
    }
    n = len(events)
    published, pending = (n, 0) if relay else (0, n)
    checks["ok"] = (applied == distinct == n and outbox == pending and checks["coins_ok"]
                    and checks["output_records"] == published and checks["dead_letters"] == 0)
    return checks


async def cleanup(base: Settings, topics: BenchTopics, schema: str) -> None:
    with contextlib.suppress(Exception):
        conn = await asyncpg.connect(base.database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
    admin = kafka_client.admin(bootstrap_servers=base.kafka_bootstrap_servers)
    try:
        await admin.start()
        await admin.delete_topics([topic.name for topic in topics.all])
    except Exception as error:  # noqa: BLE001 - leftovers are harmless, say so and go on
        log.warning("could not delete topics of %s: %r", topics.inbound.name, error)
    finally:
        await admin.close()


async def one_run(args, base: Settings, run_id: str, batch: int, handler_kind: str) -> RuntimeRun:
    n = min(args.events, args.events_batch1) if batch == 1 else args.events
    short = "bulk" if handler_kind == "bulk" else "pe"
    suffix = f"{run_id}-{short}-b{batch}"
    schema = f"bench_{run_id}_{short}_b{batch}"
    consumer = f"bench-{suffix}"
    topics = BenchTopics.named(suffix, args.partitions)
    console.print(f"[bold]{handler_kind} handler, batch {batch}[/bold]: {n} events on "
                  f"{topics.inbound.name} ({args.partitions} partitions), schema {schema}",
                  highlight=False)
    try:
        await ensure_topics(base.kafka_bootstrap_servers, topics.all)
        events = [purchase(f"user-{i % args.users}", 1 + i % 50) for i in range(n)]
        began = time.perf_counter()
        producer = kafka_client.producer(bootstrap_servers=base.kafka_bootstrap_servers,
                                         enable_idempotence=True, linger_ms=5)
        await producer.start()
        try:
            await publish(producer, topics.inbound.name, events)
        finally:
            await producer.stop()
        console.print(f"  published the backlog in {time.perf_counter() - began:.2f}s",
                      highlight=False)
        background = await _wait_until_quiet(args.quiet_below, args.quiet_timeout)
        raw_only = await raw_consume(base.kafka_bootstrap_servers, topics.inbound, n,
                                     max_records=batch, decode_records=False,
                                     timeout_s=args.timeout)
        raw_decoded = await raw_consume(base.kafka_bootstrap_servers, topics.inbound, n,
                                        max_records=batch, decode_records=True,
                                        timeout_s=args.timeout)
        console.print(f"  aiokafka alone: {raw_only.rate:,.0f} ev/s consume, "
                      f"{raw_decoded.rate:,.0f} ev/s consume+decode", highlight=False)
        run = await run_runtime(args, base, topics, schema, consumer, handler_kind, batch, n)
        run.background_cpu = background
        run.raw_consume, run.raw_decode = raw_only, raw_decoded
        run.checks = await verify(base, topics, schema, events, relay=run.relay)
        console.print(f"  runtime: {run.applied_rate:,.0f} ev/s applied, "
                      f"{_rate(run.e2e_rate)} ev/s end to end, {run.batches} batches, "
                      f"python {run.python_cpu:.0%} of a CPU, machine "
                      f"{_percent(run.machine_cpu)} busy, "
                      f"checks {'ok' if run.checks['ok'] else run.checks}", highlight=False)
        return run
    finally:
        if not args.keep:
            await cleanup(base, topics, schema)


# ------------------------------------------------------------------------------ output

def _rate(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "-"


def _percent(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "-"


def render(runs: list[RuntimeRun], args, env: dict[str, object]) -> Table:
    table = Table(
        title=f"coinlog runtime throughput, {env['date']} ({env['cpus']} CPUs, "
              f"{args.partitions} partitions, a backlog consumed from the start)",
        caption="ev/s = events per second. applied: first batch's transaction began -> last "
                "event committed. e2e: same start -> last output event acknowledged by Kafka "
                "and deleted from the outbox. incl. start: from ServiceProcess.start() (start "
                "to first batch in brackets). txn: mean time of one batch transaction and its "
                "share of the applying time. CPU: this Python process (one asyncio thread, "
                "1.0 = one core) and the whole machine (Kafka and PostgreSQL included; in "
                "brackets: during 1 s before the run, i.e. load that is not the benchmark's). "
                "raw: AIOKafkaConsumer.getmany(max_records=batch max) on the same input topic, "
                "without and with codec.decode per record.",
        caption_justify="left")
    columns = (("handler", "left"), ("batch max", "right"), ("events", "right"),
               ("mean batch", "right"), ("txn ms", "right"), ("txn busy", "right"),
               ("applied ev/s", "right"), ("e2e ev/s", "right"), ("incl. start ev/s", "right"),
               ("py CPU", "right"), ("machine CPU (before)", "right"),
               ("raw consume ev/s", "right"), ("raw +decode ev/s", "right"),
               ("checks", "center"))
    if args.repeat > 1:
        columns = (*columns[:8], ("e2e range", "right"), *columns[8:])
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=name in ("events", "handler"))
    for run in runs:
        events = f"{run.events:,}"
        if run.events < args.events:
            events += " (reduced)"
        cells = [
            run.handler, str(run.batch_max), events, f"{run.mean_batch:.1f}",
            f"{run.txn_ms:.2f}", _percent(run.txn_busy), _rate(run.applied_rate),
            _rate(run.e2e_rate) if run.relay else "no relay",
            f"{run.from_start_rate:,.0f} ({run.startup_s:.1f}s)",
            f"{run.python_cpu:.2f}",
            f"{_percent(run.machine_cpu)} ({_percent(run.background_cpu)})",
            _rate(run.raw_consume.rate) if run.raw_consume else "-",
            _rate(run.raw_decode.rate) if run.raw_decode else "-",
            "ok" if run.checks.get("ok") else "[red]FAILED[/red]",
        ]
        if args.repeat > 1:
            key = "e2e_events_per_s" if run.relay else "applied_events_per_s"
            rates = [repeat[key] for repeat in run.repeats]
            cells.insert(8, f"{_rate(min(rates))}-{_rate(max(rates))}")
        table.add_row(*cells)
    return table


def _git_state() -> dict[str, object]:
    """Which code was measured: the commit, and the runtime files changed on top of it."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                                capture_output=True, text=True, timeout=10).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", "shared"], cwd=root,
                                 capture_output=True, text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"git_commit": commit,
            "uncommitted_shared": sorted(line[3:] for line in changed if line.strip())}


async def environment(base: Settings) -> dict[str, object]:
    postgres = await postgres_version(base.database_url)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        **_git_state(),
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "platform": platform.platform(), "postgres": postgres,
        "batch_timeout_ms": base.batch_timeout_ms, "db_pool_size": base.db_pool_size,
    }


def _median(repeated: list[RuntimeRun]) -> RuntimeRun:
    """The repetition with the median end-to-end rate (applied rate without the relay)."""
    ordered = sorted(repeated, key=lambda run: run.e2e_rate or run.applied_rate)
    chosen = ordered[(len(ordered) - 1) // 2]
    chosen.repeats = [{"applied_events_per_s": round(run.applied_rate, 1),
                       "e2e_events_per_s": round(run.e2e_rate, 1) if run.e2e_rate else None}
                      for run in repeated]
    if not all(run.checks.get("ok") for run in repeated):
        chosen.checks = {**chosen.checks, "ok": False, "some_repetition_failed": True}
    return chosen


async def main(args) -> int:
    # SIGTERM cancels like Ctrl-C does, so the current run still drops its schema and topics.
    with contextlib.suppress(NotImplementedError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM,
                                                      asyncio.current_task().cancel)
    base = Settings()
    if not args.access_log:
        logging.getLogger(ACCESS_LOGGER).addFilter(_ErrorsOnly())
    env = await environment(base)
    run_id = uuid.uuid4().hex[:8]
    runs: list[RuntimeRun] = []
    for batch in args.batch_sizes:
        for handler_kind in args.handlers:
            repeated = [await one_run(args, base, f"{run_id}{index}", batch, handler_kind)
                        for index in range(args.repeat)]
            runs.append(_median(repeated))
    Console(width=max(Console().width, 200)).print(render(runs, args, env))
    result = {"environment": env, "no_relay": args.no_relay, "partitions": args.partitions,
              "users": args.users, "runs": [run.as_json() for run in runs]}
    sys.stdout.write("RESULT " + json.dumps(result, separators=(",", ":")) + "\n")
    return 0 if all(run.checks.get("ok") for run in runs) else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.runtime_throughput",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000,
                        help="backlog per run (default 20000)")
    parser.add_argument("--events-batch1", type=int, default=2000,
                        help="backlog for batch size 1, which is slow (default 2000)")
    parser.add_argument("--batch-sizes", default="1,100,1000",
                        type=lambda text: [int(part) for part in text.split(",")],
                        help="COINLOG_BATCH_MAX_RECORDS values (default 1,100,1000)")
    parser.add_argument("--handlers", default=",".join(HANDLERS),
                        type=lambda text: [part.strip() for part in text.split(",")],
                        help=f"handlers to run, of {', '.join(HANDLERS)} (default both)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per setting; the table shows the median run and the range")
    parser.add_argument("--quiet-below", type=float, default=0.25,
                        help="before each run, wait until less than this share of all CPUs "
                             "is busy for 1 s (default 0.25; 1 disables)")
    parser.add_argument("--quiet-timeout", type=float, default=60.0,
                        help="bound on that wait, in seconds (default 60)")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--users", type=int, default=1000,
                        help="distinct users (partition keys, balance rows) in the backlog")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="bound on each phase of each run, in seconds")
    parser.add_argument("--poll-ms", type=float, default=5.0,
                        help="how often progress is polled (default 5 ms)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the runtime phase and print the top functions (note: "
                             "cProfile counts every resumption of a coroutine as a call)")
    parser.add_argument("--profile-sort", default="tottime")
    parser.add_argument("--profile-top", type=int, default=30)
    parser.add_argument("--keep", action="store_true",
                        help="keep the topics and schemas (default: delete them)")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--access-log", action="store_true",
                        help="keep FastStream's per-batch INFO lines (Received/Processed) on "
                             "stdout, as a service has them; default: silenced")
    parser.add_argument("--no-relay", action="store_true",
                        help="diagnostic: do not run the outbox relay; measure applying only")
    args = parser.parse_args(argv)
    unknown = set(args.handlers) - set(HANDLERS)
    if unknown:
        parser.error(f"unknown handlers {sorted(unknown)}")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    logging.basicConfig(level=arguments.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(asyncio.run(main(arguments)))
