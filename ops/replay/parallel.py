"""Rebuilding a service in several processes, one share of its ledger's partitions each.

Wallet and payout state is per entity (user, creator), and every entity's events live on one
partition of its ledger; the only other topic they read is policy.changes, which every process
folds whole. So each process folds a disjoint set of entities and writes their rows; the rows
that come from policy.changes alone are written by the first process only.

Gifting's decisions (gifting.gifts) and the requests they answer (streams.gift-requests) are
both keyed by sender with as many partitions, so with Kafka's default partitioner partition N
of both holds the same senders: a share takes partition numbers of both. (A producer that
partitions requests otherwise leaves rejections without their request: entities that do not
fold, and rebuild() then folds again in one process.) Gifts and gifter scores are per request
and per sender, so disjoint; stream totals add up gifts of many senders, so the shares send
theirs to the parent, which adds them up; streams, catalog, campaigns and creator ages come
from the fact topics every share reads whole and are written once.

Processes come from a fork server (not forked from the parent, which runs an event loop with
open sockets), each with its own Kafka consumer and PostgreSQL connection; Python folds one
core per process.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import forkserver, get_context

from ops.replay.folding import fold_writing_history
from ops.replay.load import load_rows
from services import registry
from shared.contract.topics import Topic
from shared.logread import Cut, LogRecord
from shared.projection import FoldStats, Projection
from shared.readmodel import Rows


@dataclass(frozen=True)
class Split:
    ledgers: tuple[Topic, ...]
    """Partition numbers of these (co-partitioned) topics are shared out; every other topic is
    read by every process."""
    shared_tables: tuple[str, ...]
    """Tables made only from the topics every process reads: written once."""
    summed_tables: dict[str, int] = field(default_factory=dict)
    """Tables whose rows add up across shares: table -> how many leading columns are its key
    (the rest are added)."""

    @property
    def ledger_names(self) -> frozenset[str]:
        return frozenset(topic.name for topic in self.ledgers)


def split_of(service: str) -> Split | None:
    """How the service's projection shares out (Projection.ledgers and the tables after it);
    None when it folds in one process only."""
    projection = registry.service(service).projection
    if projection is None or not projection.ledgers:
        return None
    return Split(projection.ledgers, projection.shared_tables, projection.summed_tables)


def _split(service: str) -> Split:
    split = split_of(service)
    if split is None:
        raise ValueError(f"{service} does not fold in several processes")
    return split

MIN_RECORDS_PER_PROCESS = 50_000
"""Below this a process costs more (spawn, imports, connections: ~1 s) than it saves."""


def _ledger_partitions(split: Split, cut: Cut) -> dict[int, int] | None:
    """Partition number -> records over the ledgers; None when they are not co-partitioned."""
    counts = {name: sum(1 for topic, _ in cut.ends if topic == name)
              for name in split.ledger_names}
    if len(set(counts.values())) != 1:
        return None
    records: dict[int, int] = {}
    for (topic, partition), end in cut.ends.items():
        if topic in split.ledger_names:
            records[partition] = records.get(partition, 0) + end
    return records


def processes_for(service: str, cut: Cut, requested: int | None = None) -> int:
    split = split_of(service)
    partitions = _ledger_partitions(split, cut) if split is not None else None
    if not partitions:
        return 1
    if requested is not None:
        return max(1, min(requested, len(partitions)))
    by_size = sum(partitions.values()) // MIN_RECORDS_PER_PROCESS
    return max(1, min(os.cpu_count() or 1, len(partitions), by_size))


def shares(service: str, cut: Cut, processes: int) -> list[Cut]:
    """The cut divided: ledger partition numbers dealt out by size (largest first, to the
    least loaded), every other topic's partitions in every share."""
    split = _split(service)
    ledgers = split.ledger_names
    common = {position: end for position, end in cut.ends.items() if position[0] not in ledgers}
    parts: list[dict[tuple[str, int], int]] = [dict(common) for _ in range(processes)]
    load = [0] * processes
    for number, records in sorted(_ledger_partitions(split, cut).items(),
                                  key=lambda item: (-item[1], item[0])):
        least = load.index(min(load))
        for position, end in cut.ends.items():
            if position[0] in ledgers and position[1] == number:
                parts[least][position] = end
        load[least] += records
    return [Cut(part) for part in parts]


def add_up(rows: list[Rows], key_columns: int) -> Rows:
    """Rows of one table from several shares, added up per key (the first `key_columns`
    columns), in first-seen order."""
    totals: dict[tuple, list] = {}
    for part in rows:
        for row in part.rows:
            key = row[:key_columns]
            total = totals.get(key)
            if total is None:
                totals[key] = list(row[key_columns:])
            else:
                for i, value in enumerate(row[key_columns:]):
                    total[i] += value
    return Rows(rows[0].columns, [(*key, *values) for key, values in totals.items()])


@dataclass
class ShareResult:
    stats: FoldStats
    rows: dict[str, int]
    read_s: float
    write_s: float
    summed: dict[str, Rows] = field(default_factory=dict)
    """Rows of the summed tables, for the parent to add up and write."""


def _rebuild_share(service: str, schema: str, prefix: str, ends: dict, write_shared: bool,
                   database_url: str, bootstrap_servers: str) -> ShareResult:
    return asyncio.run(_rebuild_share_async(service, schema, prefix, Cut(ends), write_shared,
                                            database_url, bootstrap_servers))


async def _rebuild_share_async(service: str, schema: str, prefix: str, cut: Cut,
                               write_shared: bool, database_url: str,
                               bootstrap_servers: str) -> ShareResult:
    split = _split(service)
    ledgers = split.ledger_names
    common = FoldStats()

    def apply(folding: Projection, batch: list[LogRecord]) -> None:
        # Per partition the order is kept; across topics there is none to keep.
        others = [record for record in batch if record.topic not in ledgers]
        if others:
            before = _counts(folding.stats)
            folding.apply_batch(others)
            _add(common, folding.stats, before)
            folding.apply_batch([record for record in batch if record.topic in ledgers])
        else:
            folding.apply_batch(batch)

    started = time.perf_counter()
    # This process ends after the share: the cyclic collector would only rescan the fold.
    gc.disable()
    folding, history = await fold_writing_history(
        service, prefix, cut, bootstrap_servers=bootstrap_servers, database_url=database_url,
        schema=schema, apply=apply)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    rows = folding.rows()
    if not write_shared:
        for table in split.shared_tables:
            rows.pop(table, None)
    summed = {table: rows.pop(table) for table in split.summed_tables if table in rows}
    counts = await load_rows(database_url, schema, rows, connections=1)
    counts["event_history"] = counts.get("event_history", 0) + history
    own = folding.stats
    if not write_shared:
        # The first share reports the records every share read.
        own = FoldStats(own.records - common.records, own.applied - common.applied,
                        own.duplicates - common.duplicates,
                        own.undecodable - common.undecodable, own.broken)
    # Freeing a fold's millions of objects takes a fraction of a second that the parent would
    # wait for; the process exits without freeing them (os._exit, as pool workers do).
    _KEPT_UNTIL_EXIT.append((folding, rows))
    return ShareResult(own, counts, read_s, time.perf_counter() - started, summed)


_KEPT_UNTIL_EXIT: list = []


def _counts(stats: FoldStats) -> tuple[int, int, int, int]:
    return stats.records, stats.applied, stats.duplicates, stats.undecodable


def _add(total: FoldStats, now: FoldStats, before: tuple[int, int, int, int]) -> None:
    records, applied, duplicates, undecodable = before
    total.records += now.records - records
    total.applied += now.applied - applied
    total.duplicates += now.duplicates - duplicates
    total.undecodable += now.undecodable - undecodable


def merge_stats(parts: list[FoldStats]) -> FoldStats:
    merged = FoldStats()
    for part in parts:
        merged.records += part.records
        merged.applied += part.applied
        merged.duplicates += part.duplicates
        merged.undecodable += part.undecodable
        for entity, problem in part.broken.items():
            merged.broken.setdefault(entity, problem)
    return merged


PRELOADED = ["services.registry", "ops.replay.folding", "ops.replay.load",
             "ops.replay.parallel", "shared.logread"]
"""Imported once by the fork server (the domains and the contract: most of a start-up)."""


def warm_up() -> None:
    """Start the fork server now, without waiting for it: it imports the replay in the
    background (~0.4 s) while the caller does other things, such as taking the cut that
    tells how many processes the rebuild will use."""
    if (os.cpu_count() or 1) > 1:
        get_context("forkserver").set_forkserver_preload(PRELOADED)
        forkserver.ensure_running()


def start_processes(processes: int) -> ProcessPoolExecutor:
    """Processes started now, so that they are ready by the time the caller has made the
    schema. They are forked from a fork server that imported the replay once (a fork of this
    process could inherit its running event loop and its threads' locks; a spawn would import
    everything again in every process)."""
    context = get_context("forkserver")
    context.set_forkserver_preload(PRELOADED)
    pool = ProcessPoolExecutor(processes, mp_context=context)
    for _ in range(processes):
        pool.submit(os.getpid)
    return pool


async def fold_and_write_in_processes(service: str, schema: str, prefix: str, cut: Cut,
                                      processes: int, *, database_url: str,
                                      bootstrap_servers: str,
                                      pool: ProcessPoolExecutor | None = None
                                      ) -> tuple[FoldStats, dict[str, int], float, float]:
    """Fill the (existing, empty) `schema` from `processes` processes (of `pool`, which this
    shuts down, or new ones). Returns the merged stats, rows per table, and the slowest
    share's fold and write seconds."""
    loop = asyncio.get_running_loop()
    with pool or start_processes(processes) as pool:
        results: list[ShareResult] = await asyncio.gather(*(
            loop.run_in_executor(pool, _rebuild_share, service, schema, prefix, part.ends,
                                 number == 0, database_url, bootstrap_servers)
            for number, part in enumerate(shares(service, cut, processes))))
    stats = merge_stats([r.stats for r in results])
    counts: dict[str, int] = {}
    for result in results:
        for table, count in result.rows.items():
            counts[table] = counts.get(table, 0) + count
    summed = {table: add_up([r.summed[table] for r in results], key_columns)
              for table, key_columns in _split(service).summed_tables.items()}
    if summed:
        counts.update(await load_rows(database_url, schema, summed, connections=1))
    return (stats, counts, max(r.read_s for r in results), max(r.write_s for r in results))
