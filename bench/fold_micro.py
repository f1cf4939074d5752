"""The replay folds alone, per record, over an in-memory log (no Kafka, no PostgreSQL).

    python -m bench.fold_micro [--events 300000] [--log PATH] [--repeat 3]
                               [--services wallet gifting payout]
                               [--save-rows PATH | --check-rows PATH]

The log is decided in-process by `bench.log_generator.generate` (the services' own pure
decisions), encoded as the relay would publish it, and decoded into LogRecords with
`shared.contract.codec.decode`. Partitions follow the key as Kafka's default partitioner
places it, offsets count per partition, and records are handed to the fold in decision order
(one valid interleaving of the partitions). Event ids of external inputs are random, so
`--log PATH` keeps the encoded log in a file (written once, read on later runs) to compare
runs over the same records.

Per service, with the garbage collector paused as the replay runs its fold: the best of
`--repeat` runs of `projection(service).apply_batch(records)` and of `.rows()`, in µs per
record. `--save-rows` pickles every table's rows (normalised: snapshot states loaded as domain
objects, JSON columns as canonical JSON) and `--check-rows` compares a run against such a
file, table by table and row by row, every column, exiting 1 on any difference.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import pickle
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from aiokafka.partitioner import murmur2
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from bench.log_generator import generate
from ops.replay.rebuild import read_tables
from services.registry import NAMES, projection
from shared.contract.codec import InvalidEvent, decode, encode
from shared.contract.envelope import Event
from shared.contract.topics import ALL_TOPICS, topic_of
from shared.gcpause import collector_paused
from shared.logread import LogRecord

console = Console(stderr=True, soft_wrap=True)

EncodedLog = list[tuple[str, bytes, bytes]]
"""(topic name, key, value) in decision order."""

JSON_COLUMNS = {"payload", "priced_event"}
"""JSON columns: compared as canonical JSON (keys sorted), as verify compares them."""


async def build_log(events: int, viewers: int, creators: int, seed: int) -> EncodedLog:
    log: EncodedLog = []

    async def keep(batch: list[Event]) -> None:
        for event in batch:
            log.append((topic_of(event).name, event.key.encode(), encode(event)))

    await generate(events, keep, viewers=viewers, creators=creators, seed=seed,
                   run_id="foldmicro", progress=False)
    return log


def load_or_build_log(path: Path | None, args: argparse.Namespace) -> EncodedLog:
    if path is not None and path.exists():
        console.print(f"log from {path}", highlight=False)
        return pickle.loads(path.read_bytes())
    started = time.perf_counter()
    log = asyncio.run(build_log(args.events, args.viewers, args.creators, args.seed))
    console.print(f"generated {len(log):,} events in {time.perf_counter() - started:.0f}s",
                  highlight=False)
    if path is not None:
        path.write_bytes(pickle.dumps(log, protocol=pickle.HIGHEST_PROTOCOL))
        console.print(f"log kept in {path}", highlight=False)
    return log


def log_records(log: EncodedLog, topic_names: set[str]) -> list[LogRecord]:
    topics = {topic.name: topic for topic in ALL_TOPICS}
    offsets: Counter[tuple[str, int]] = Counter()
    records = []
    for timestamp_ms, (name, key, value) in enumerate(log):
        if name not in topic_names:
            continue
        topic = topics[name]
        partition = (murmur2(key) & 0x7FFFFFFF) % topic.partitions
        offset = offsets[(name, partition)]
        offsets[(name, partition)] += 1
        decoded = error = None
        try:
            decoded = decode(topic, value)
        except InvalidEvent as invalid:
            error = invalid
        records.append(LogRecord(name, partition, offset, timestamp_ms, key, value, decoded,
                                 error))
    return records


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    with collector_paused():
        started = time.perf_counter()
        result = action()
        return time.perf_counter() - started, result


def plain(value: Any) -> Any:
    """A picklable value that compares equal exactly when the domain objects do: dataclasses
    as (type name, fields), mappings as sorted items, sets as sorted lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,
                tuple((f.name, plain(getattr(value, f.name))) for f in dataclasses.fields(value)))
    if isinstance(value, BaseModel):
        return (type(value).__name__, plain(dict(value)))
    if isinstance(value, Mapping):
        return sorted(((plain(k), plain(v)) for k, v in value.items()), key=repr)
    if isinstance(value, set | frozenset):
        return ("set", sorted((plain(item) for item in value), key=repr))
    if isinstance(value, tuple | list):
        return type(value)(plain(item) for item in value)
    return value


def normalised(service: str, tables: dict) -> dict[str, list[dict[str, Any]]]:
    """Every column of every row (those verify leaves out too), in the rows' order."""
    specs = {table.name: table for table in read_tables(service)}
    out = {}
    for name, rows in tables.items():
        normalize = specs[name].normalize
        out[name] = [
            {column: (value if value is None
                      else plain(normalize[column](value)) if column in normalize
                      else _canonical_json(value) if column in JSON_COLUMNS
                      else value)
             for column, value in zip(rows.columns, row, strict=True)}
            for row in rows.rows]
    return out


def _canonical_json(text: str) -> bytes:
    return orjson.dumps(orjson.loads(text), option=orjson.OPT_SORT_KEYS)


def differences(expected: dict, actual: dict, limit: int = 5) -> list[str]:
    problems = []
    for table in sorted(set(expected) | set(actual)):
        want, got = expected.get(table), actual.get(table)
        if want is None or got is None:
            problems.append(f"{table}: only in {'saved' if got is None else 'this run'}")
            continue
        if len(want) != len(got):
            problems.append(f"{table}: {len(want)} rows saved, {len(got)} now")
        shown = 0
        for index, (a, b) in enumerate(zip(want, got, strict=False)):
            if a != b or any(type(a[c]) is not type(b.get(c)) for c in a):
                problems.append(f"{table} row {index}: saved {a!r}\n    now {b!r}")
                shown += 1
                if shown >= limit:
                    break
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--viewers", type=int, default=15_000)
    parser.add_argument("--creators", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log", type=Path, help="keep / reuse the encoded log in this file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--services", nargs="+", default=list(NAMES))
    rows_file = parser.add_mutually_exclusive_group()
    rows_file.add_argument("--save-rows", type=Path)
    rows_file.add_argument("--check-rows", type=Path)
    args = parser.parse_args(argv)

    log = load_or_build_log(args.log, args)
    saved = pickle.loads(args.check_rows.read_bytes()) if args.check_rows else {}
    all_rows: dict[str, Any] = {}
    table = Table(title=f"replay folds over {len(log):,} events in memory, GC paused, "
                        f"best of {args.repeat}")
    for column in ("service", "records", "fold µs/record", "rows() s", "rows() µs/record",
                   "total µs/record", "broken"):
        table.add_column(column, justify="left" if column == "service" else "right")
    failed = False
    for service in args.services:
        records = log_records(log, {topic.name for topic in projection(service).topics})
        fold_s = rows_s = float("inf")
        for _ in range(args.repeat):
            folding = projection(service)
            seconds, _ = timed(partial(folding.apply_batch, records))
            fold_s = min(fold_s, seconds)
            seconds, tables = timed(folding.rows)
            rows_s = min(rows_s, seconds)
        n = len(records)
        table.add_row(service, f"{n:,}", f"{1e6 * fold_s / n:.2f}", f"{rows_s:.2f}",
                      f"{1e6 * rows_s / n:.2f}", f"{1e6 * (fold_s + rows_s) / n:.2f}",
                      str(len(folding.stats.broken)))
        if args.save_rows or args.check_rows:
            all_rows[service] = normalised(service, tables)
        if args.check_rows:
            problems = differences(saved[service], all_rows[service])
            for problem in problems:
                console.print(f"[red]{service} {problem}[/red]", highlight=False)
            failed = failed or bool(problems)
            console.print(f"{service}: rows {'DIFFER' if problems else 'identical'} to "
                          f"{args.check_rows}", highlight=False)
        del records, folding, tables
    console.print(table)
    if args.save_rows:
        args.save_rows.write_bytes(pickle.dumps(all_rows, protocol=pickle.HIGHEST_PROTOCOL))
        console.print(f"rows kept in {args.save_rows}", highlight=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
