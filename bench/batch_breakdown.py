"""Where the time of one batch goes: every statement BatchProcessor sends, timed.

    python -m bench.batch_breakdown [--batch-sizes 1,100,1000] [--events 20000]

No Kafka and no relay: records are built in memory (as Kafka would hand them over) and given
to shared.runtime.processor.BatchProcessor with the bulk bench handler, one batch at a time,
on a fresh schema that is dropped at the end. asyncpg's query logger times each statement on
the client (send -> result, so one round trip plus the server's work); what is left of a batch
is Python (decoding, the handler's event building, encoding) and the pool.

Prints a rich table per batch size and one line `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
import uuid
from collections import defaultdict
from typing import Any

import asyncpg
from rich.console import Console
from rich.table import Table

from bench.app import BenchTopics, bulk_handler
from shared.contract.codec import encode
from shared.runtime import db as runtime_db
from shared.runtime.migrate import apply_migrations, runtime_migrations
from shared.runtime.processor import BatchProcessor
from shared.runtime.unit import Record
from shared.settings import Settings
from tests.integration.events import purchase
from tests.integration.sample_app import SAMPLE_TABLES


class StatementTimes:
    def __init__(self) -> None:
        self.by_statement: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def __call__(self, record: Any) -> None:
        text = " ".join(record.query.split())
        entry = self.by_statement[text[:70]]
        entry[0] += 1
        entry[1] += record.elapsed


async def breakdown(settings: Settings, batch: int, n: int, partitions: int) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    schema = f"bench_breakdown_{suffix}"
    topics = BenchTopics.named(suffix, partitions)
    events = [purchase(f"user-{i % 1000}", 1 + i % 50) for i in range(n)]
    records = [Record(topics.inbound.name, i % partitions, i // partitions, event.key.encode(),
                      encode(event), (), 0) for i, event in enumerate(events)]
    times = StatementTimes()
    pool = await runtime_db.create_pool(settings.database_url, schema, size=1)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, schema, [*runtime_migrations(), SAMPLE_TABLES])
            conn.add_query_logger(times)  # the pool's only connection keeps it
        processor = BatchProcessor(consumer="breakdown", topics=[topics.inbound],
                                   handler=bulk_handler(topics.outbound), pool=pool,
                                   dead_letter_topic=topics.dead_letters)
        started = time.perf_counter()
        for index in range(0, n, batch):
            await processor.process(records[index:index + batch])
        total = time.perf_counter() - started
    finally:
        await pool.close()
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
    batches = -(-n // batch)
    statements = sorted(
        ({"statement": text, "per_batch": count / batches, "ms_per_batch": 1000 * sec / batches}
         for text, (count, sec) in times.by_statement.items() if count >= batches),
        key=lambda item: -item["ms_per_batch"])
    in_statements = sum(item["ms_per_batch"] for item in statements)
    return {"batch": batch, "events": n, "events_per_s": n / total,
            "ms_per_batch": 1000 * total / batches, "statements": statements,
            "round_trips_per_batch": sum(item["per_batch"] for item in statements),
            "ms_outside_statements": 1000 * total / batches - in_statements}


def render(result: dict[str, Any]) -> Table:
    table = Table(title=f"batch of {result['batch']}: {result['events_per_s']:,.0f} ev/s, "
                        f"{result['ms_per_batch']:.3f} ms per batch, "
                        f"{result['round_trips_per_batch']:.0f} round trips per batch",
                  title_justify="left")
    table.add_column("ms per batch", justify="right")
    table.add_column("share", justify="right")
    table.add_column("statement (first 70 characters)")
    for item in result["statements"]:
        table.add_row(f"{item['ms_per_batch']:.3f}",
                      f"{item['ms_per_batch'] / result['ms_per_batch']:.0%}", item["statement"])
    table.add_row(f"{result['ms_outside_statements']:.3f}",
                  f"{result['ms_outside_statements'] / result['ms_per_batch']:.0%}",
                  "(outside statements: Python, i.e. decode, handler, encode; pool)")
    return table


async def main(args: argparse.Namespace) -> None:
    # SIGTERM cancels like Ctrl-C does, so the schema of the current run is still dropped.
    with contextlib.suppress(NotImplementedError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM,
                                                      asyncio.current_task().cancel)
    settings = Settings()
    console = Console(width=max(Console().width, 120))
    results = []
    for batch in args.batch_sizes:
        n = min(args.events, args.events_batch1) if batch == 1 else args.events
        result = await breakdown(settings, batch, n, args.partitions)
        console.print(render(result))
        results.append(result)
    sys.stdout.write("RESULT " + json.dumps({"runs": results}, separators=(",", ":")) + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.batch_breakdown",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--events-batch1", type=int, default=2000)
    parser.add_argument("--batch-sizes", default="1,100,1000",
                        type=lambda text: [int(part) for part in text.split(",")])
    parser.add_argument("--partitions", type=int, default=6)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
