"""Rebuilding a service in several processes, one share of its ledger's partitions each.

Wallet and payout state is per entity (user, creator), and every entity's events live on one
partition of its ledger; the only other topic they read is policy.changes, which every process
folds whole. So each process folds a disjoint set of entities and writes their rows; the rows
that come from policy.changes alone are written by the first process only. Gifting's tables mix
topics keyed differently (requests, streams, senders), so it is rebuilt in one process.

Processes are spawned (not forked: the parent runs an event loop with open sockets), each with
its own Kafka consumer and PostgreSQL connection; Python folds one core per process.
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

from ops.replay.fold import FoldStats
from shared.contract.topics import PAYOUT_LEDGER, WALLET_LEDGER, Topic
from shared.logread import Cut


@dataclass(frozen=True)
class Split:
    ledger: Topic
    """Partitions of this topic are shared out; every other topic is read by every process."""
    shared_tables: tuple[str, ...]
    """Tables made only from the topics every process reads: written once."""


SPLITS: dict[str, Split] = {
    "wallet": Split(WALLET_LEDGER, ("spending_policy",)),
    "payout": Split(PAYOUT_LEDGER, ("policy_events",)),
}

MIN_RECORDS_PER_PROCESS = 100_000
"""Below this a process costs more (spawn, imports, connections: ~1 s) than it saves."""


def processes_for(service: str, cut: Cut, requested: int | None = None) -> int:
    split = SPLITS.get(service)
    if split is None:
        return 1
    partitions = [end for (topic, _), end in cut.ends.items() if topic == split.ledger.name]
    if requested is not None:
        return max(1, min(requested, len(partitions)))
    by_size = sum(partitions) // MIN_RECORDS_PER_PROCESS
    return max(1, min(os.cpu_count() or 1, len(partitions), by_size))


def shares(service: str, cut: Cut, processes: int) -> list[Cut]:
    """The cut divided: ledger partitions dealt out by size (largest first, to the least
    loaded), every other topic's partitions in every share."""
    ledger = SPLITS[service].ledger.name
    common = {position: end for position, end in cut.ends.items() if position[0] != ledger}
    parts: list[dict[tuple[str, int], int]] = [dict(common) for _ in range(processes)]
    load = [0] * processes
    for position, end in sorted(((p, e) for p, e in cut.ends.items() if p[0] == ledger),
                                key=lambda item: -item[1]):
        least = load.index(min(load))
        parts[least][position] = end
        load[least] += end
    return [Cut(part) for part in parts]


@dataclass
class ShareResult:
    stats: FoldStats
    rows: dict[str, int]
    read_s: float
    write_s: float


def _rebuild_share(service: str, schema: str, prefix: str, ends: dict, write_shared: bool,
                   database_url: str, bootstrap_servers: str) -> ShareResult:
    return asyncio.run(_rebuild_share_async(service, schema, prefix, Cut(ends), write_shared,
                                            database_url, bootstrap_servers))


async def _rebuild_share_async(service: str, schema: str, prefix: str, cut: Cut,
                               write_shared: bool, database_url: str,
                               bootstrap_servers: str) -> ShareResult:
    from ops.replay.fold import projection
    from ops.replay.rebuild import connect
    from shared.gcpause import collector_paused
    from shared.logread import LogReader

    folding = projection(service)
    ledger = SPLITS[service].ledger.name
    reader = LogReader(bootstrap_servers, folding.topics, prefix=prefix, digests=False)
    common = FoldStats()
    started = time.perf_counter()
    with collector_paused():
        async for batch in reader.read(cut):
            # Per partition the order is kept; across topics there is none to keep.
            others = [record for record in batch if record.topic != ledger]
            if others:
                before = _counts(folding.stats)
                folding.apply_batch(others)
                _add(common, folding.stats, before)
                folding.apply_batch([record for record in batch if record.topic == ledger])
            else:
                folding.apply_batch(batch)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    rows = folding.rows()
    if not write_shared:
        for table in SPLITS[service].shared_tables:
            rows.pop(table, None)
    counts: dict[str, int] = {}
    conn = await connect(database_url, schema)
    try:
        async with conn.transaction():
            for table, data in rows.items():
                if data.rows:
                    await conn.copy_records_to_table(table, records=data.rows,
                                                     columns=list(data.columns),
                                                     schema_name=schema)
                counts[table] = len(data.rows)
    finally:
        await conn.close()
    own = folding.stats
    if not write_shared:
        # The first share reports the records every share read.
        own = FoldStats(own.records - common.records, own.applied - common.applied,
                        own.duplicates - common.duplicates,
                        own.undecodable - common.undecodable, own.broken)
    return ShareResult(own, counts, read_s, time.perf_counter() - started)


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


async def fold_and_write_in_processes(service: str, schema: str, prefix: str, cut: Cut,
                                      processes: int, *, database_url: str,
                                      bootstrap_servers: str
                                      ) -> tuple[FoldStats, dict[str, int], float, float]:
    """Fill the (existing, empty) `schema` from `processes` processes. Returns the merged
    stats, rows per table, and the slowest share's fold and write seconds."""
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        results: list[ShareResult] = await asyncio.gather(*(
            loop.run_in_executor(pool, _rebuild_share, service, schema, prefix, part.ends,
                                 number == 0, database_url, bootstrap_servers)
            for number, part in enumerate(shares(service, cut, processes))))
    stats = merge_stats([r.stats for r in results])
    counts: dict[str, int] = {}
    for result in results:
        for table, count in result.rows.items():
            counts[table] = counts.get(table, 0) + count
    return (stats, counts, max(r.read_s for r in results), max(r.write_s for r in results))
