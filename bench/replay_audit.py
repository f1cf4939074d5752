"""Replay and audit throughput over a log of a million events, next to raw aiokafka.

    python -m bench.replay_audit [--events 1000000] [--reuse PREFIX] [--keep] [--profile]

1. generate: bench.log_generator decides a consistent economy in-process (the services' pure
   domains) and publishes every input and decision under a fresh prefix `bench.<id>.`
   (skipped with --reuse PREFIX: the topics of an earlier run kept with --keep);
2. raw: an AIOKafkaConsumer (LogReader's settings: fetch_max_bytes 64 MiB, 8 MiB per partition,
   getmany(max_records=5000)) reads the same topics from the beginning, once only counting
   records and once also decoding each with shared.contract.codec.decode; for every topic set
   measured below (all topics for the audit; each service's projection topics for its replay);
3. audit: ops.audit.command.run_audit over the prefix (LogReader + Auditor, report built);
4. replay: ops.replay.rebuild.rebuild(service, fresh schema, prefix) for wallet, gifting and
   payout (read + fold, then migrations + COPY in one transaction); the schemas are dropped.

Rates are records per second of wall time: raw from the first getmany to the last record;
audit from the cut taken to the report built (AuditRun.elapsed_s); replay read+fold plus
write (RebuildResult). The target (product requirement "Replay and audit"): replay at least
half the raw consume+decode rate of the same topics. Prints a rich table and one line
`RESULT {json}`. Topics are deleted at the end unless --keep; schemas always. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

import asyncpg
from aiokafka import TopicPartition
from rich.console import Console
from rich.table import Table

from bench.log_generator import delete_topics, generate_to_kafka
from bench.machine import MachineCpu, postgres_version
from ops.audit.command import run_audit
from ops.replay.rebuild import rebuild
from services.registry import NAMES, projection
from shared import kafka_client
from shared.contract.codec import InvalidEvent, decode
from shared.contract.topics import ALL_TOPICS, Topic
from shared.logread import BATCH_RECORDS, LogReader
from shared.settings import Settings

console = Console(stderr=True, soft_wrap=True)
SERVICES = NAMES


@dataclass
class Phase:
    """One measured pass: records, wall seconds, CPU of this process, the machine's load."""

    name: str
    records: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    machine: float | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, object]:
        return {"records": self.records, "seconds": round(self.seconds, 3),
                "events_per_s": round(self.rate, 1),
                "py_cpu": round(self.cpu_s / self.seconds, 3) if self.seconds else None,
                "machine_cpu": round(self.machine, 3) if self.machine is not None else None,
                **self.extra}


class Measure:
    def __init__(self, phase: Phase, profiler: cProfile.Profile | None = None):
        self.phase = phase
        self.profiler = profiler

    @staticmethod
    def _cpu() -> float:
        # A rebuild's processes are the fork server's children, not ours: not counted.
        return time.process_time()

    def __enter__(self) -> Phase:
        self.machine = MachineCpu()
        self.cpu = self._cpu()
        if self.profiler:
            self.profiler.enable()
        return self.phase

    def __exit__(self, *exc) -> None:
        if self.profiler:
            self.profiler.disable()
        self.phase.cpu_s = self._cpu() - self.cpu
        self.phase.machine = self.machine.busy()


# ------------------------------------------------------------------------------ raw aiokafka

async def raw_read(bootstrap: str, prefix: str, topics: tuple[Topic, ...], *,
                   decode_records: bool, name: str,
                   only: list[tuple[str, int]] | None = None) -> Phase:
    """Every record of `topics` (of the partitions `only` names, when given) from the
    beginning to their end offsets now. Decoding is the codec's without a content digest:
    the least a reader does to get events (replay skips the digest too)."""
    by_name = {prefix + topic.name: topic for topic in topics}
    consumer = kafka_client.consumer(bootstrap_servers=bootstrap, group_id=None,
                                     enable_auto_commit=False, auto_offset_reset="earliest",
                                     fetch_max_bytes=64 * 1024 * 1024,
                                     max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    phase = Phase(name)
    try:
        partitions = [TopicPartition(prefix + topic.name, p)
                      for topic in topics for p in range(topic.partitions)
                      if only is None or (topic.name, p) in only]
        ends = {tp: end for tp, end in (await consumer.end_offsets(partitions)).items()
                if end > 0}
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        remaining = dict(ends)
        count = undecodable = 0
        with Measure(phase):
            started = time.perf_counter()
            phase.extra["started_at"] = time.time()
            while remaining:
                # LogReader's batch size, which is also the fastest of 30-5,000 for this loop.
                fetched = await consumer.getmany(*remaining, timeout_ms=1000,
                                                 max_records=BATCH_RECORDS)
                for tp, records in fetched.items():
                    end = remaining.get(tp)
                    if end is None:
                        continue
                    if decode_records:
                        topic = by_name[tp.topic]
                        for record in records:
                            try:
                                decode(topic, record.value, digest=False)
                            except InvalidEvent:
                                undecodable += 1
                    count += len(records)
                    if records and records[-1].offset + 1 >= end:
                        remaining.pop(tp)
                        consumer.pause(tp)
            phase.seconds = time.perf_counter() - started
            phase.extra["ended_at"] = time.time()
        phase.records = count
        if decode_records:
            phase.extra["undecodable"] = undecodable
    finally:
        await consumer.stop()
    return phase


def _raw_share(bootstrap: str, prefix: str, topic_names: list[str],
               only: list[tuple[str, int]]) -> tuple[int, float, float]:
    topics = tuple(topic for topic in ALL_TOPICS if topic.name in topic_names)
    phase = asyncio.run(raw_read(bootstrap, prefix, topics, decode_records=True,
                                 name="share", only=only))
    return phase.records, phase.extra["started_at"], phase.extra["ended_at"]


async def raw_decode_in_processes(bootstrap: str, prefix: str, topics: tuple[Topic, ...],
                                  processes: int, name: str) -> Phase:
    """Raw consume+decode with the partitions dealt out to `processes` spawned processes
    (largest first to the least loaded), from the first record in hand in any process to the
    last record decoded in all: the baseline for a replay that uses as many processes."""
    consumer = kafka_client.consumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(prefix + topic.name, p)
                      for topic in topics for p in range(topic.partitions)]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    shares: list[list[tuple[str, int]]] = [[] for _ in range(processes)]
    load = [0] * processes
    for tp, end in sorted(ends.items(), key=lambda item: -item[1]):
        least = load.index(min(load))
        shares[least].append((tp.topic.removeprefix(prefix), tp.partition))
        load[least] += end
    loop = asyncio.get_running_loop()
    names = [topic.name for topic in topics]
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        done = await asyncio.gather(*(loop.run_in_executor(pool, _raw_share, bootstrap, prefix,
                                                           names, share)
                                      for share in shares if share))
    return Phase(name, records=sum(records for records, _, _ in done),
                 seconds=max(end for _, _, end in done) - min(start for _, start, _ in done),
                 extra={"processes": processes})


# ------------------------------------------------------------------------------ breakdown

async def breakdown(bootstrap: str, prefix: str, services: tuple[str, ...],
                    audit: bool) -> dict[str, dict[str, float]]:
    """Where the time of a replay / the audit goes, stage by stage, with no profiler: read
    the records once into memory with LogReader (aiokafka + decode + LogRecord), then time the
    pure fold over them, then building the rows (replay) / the report (audit). The write
    (migrations + COPY) is RebuildResult.write_s of the measured run. Seconds per stage."""
    from ops.audit.fold import Auditor

    out: dict[str, dict[str, float]] = {}
    jobs = [(service, projection(service).topics) for service in services]
    if audit:
        jobs.append(("audit", ALL_TOPICS))
    for name, topics in jobs:
        reader = LogReader(bootstrap, topics, prefix=prefix)
        cut = await reader.cut()
        started = time.perf_counter()
        records = [record async for batch in reader.read(cut) for record in batch]
        read_s = time.perf_counter() - started
        if name == "audit":
            auditor = Auditor()
            started = time.perf_counter()
            for record in records:
                auditor.feed(record)
            fold_s = time.perf_counter() - started
            started = time.perf_counter()
            auditor.report()
            finish_s = time.perf_counter() - started
        else:
            folding = projection(name)
            started = time.perf_counter()
            folding.apply_batch(records)
            fold_s = time.perf_counter() - started
            started = time.perf_counter()
            folding.rows()
            finish_s = time.perf_counter() - started
        out[name] = {"records": len(records), "read_decode_s": round(read_s, 2),
                     "fold_s": round(fold_s, 2), "rows_or_report_s": round(finish_s, 2)}
        console.print(f"  breakdown {name}: {len(records):,} records; LogReader read+decode "
                      f"{read_s:.1f}s ({1e6 * read_s / len(records):.1f} us/record), fold "
                      f"{fold_s:.1f}s ({1e6 * fold_s / len(records):.1f} us/record), "
                      f"{'report' if name == 'audit' else 'rows()'} {finish_s:.1f}s",
                      highlight=False)
        del records
    return out


# ------------------------------------------------------------------------------ helpers

def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


async def environment(base: Settings) -> dict[str, object]:
    postgres = await postgres_version(base.database_url)
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"),
            "git_commit": _git_commit(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform(),
            "postgres": postgres, "load_avg": os.getloadavg()}


async def drop_schemas(database_url: str, schemas: list[str]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for schema in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def _profile_text(profiler: cProfile.Profile, top: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def _rate(value: float | None) -> str:
    return f"{value:,.0f}" if value else "-"


def _share(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "-"


# ------------------------------------------------------------------------------ the run

async def main(args) -> int:
    with contextlib.suppress(NotImplementedError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM,
                                                      asyncio.current_task().cancel)
    base = Settings()
    bootstrap, database_url = base.kafka_bootstrap_servers, base.database_url
    env = await environment(base)
    run_id = uuid.uuid4().hex[:8]
    prefix = args.reuse or f"bench.{run_id}."
    schemas = {service: f"bench_{run_id}_{service}" for service in args.services}
    result: dict[str, object] = {"environment": env, "prefix": prefix, "reused": bool(args.reuse)}
    profiles: dict[str, str] = {}
    try:
        # 1. the log
        if args.reuse:
            cut = await LogReader(bootstrap, ALL_TOPICS, prefix=prefix).cut()
            if cut.total == 0:
                raise SystemExit(f"nothing under {prefix}: nothing to reuse")
            console.print(f"reusing {cut.total:,} records under {prefix}")
            result["generation"] = {"records": cut.total}
        else:
            console.print(f"generating >= {args.events:,} events under {prefix} "
                          f"({args.viewers:,} viewers, {args.creators} creators)")
            stats = await generate_to_kafka(bootstrap, prefix, args.events,
                                            viewers=args.viewers, creators=args.creators,
                                            seed=args.seed)
            console.print(f"  {stats.events:,} events in {stats.total_s:.0f}s "
                          f"(deciding {stats.decide_s:.0f}s, publishing {stats.publish_s:.0f}s)")
            result["generation"] = {
                "records": stats.events, "seconds": round(stats.total_s, 1),
                "decide_s": round(stats.decide_s, 1), "publish_s": round(stats.publish_s, 1),
                "by_type": dict(stats.by_type.most_common()), "kinds": dict(stats.kinds)}

        # 2. raw aiokafka, per topic set
        sets: dict[str, tuple[Topic, ...]] = {"all topics": ALL_TOPICS}
        for service in args.services:
            sets[service] = projection(service).topics
        raw: dict[str, dict[str, Phase]] = {}
        for label, topics in sets.items():
            raw[label] = {}
            for decoding in (False, True):
                phase = await raw_read(bootstrap, prefix, topics, decode_records=decoding,
                                       name=f"raw {'decode' if decoding else 'consume'} "
                                            f"{label}")
                raw[label]["decode" if decoding else "consume"] = phase
                console.print(f"  {phase.name}: {phase.records:,} in {phase.seconds:.1f}s "
                              f"({phase.rate:,.0f}/s)", highlight=False)

        # 3. audit
        audit_phase = Phase("audit")
        profiler = cProfile.Profile() if args.profile else None
        if not args.skip_audit:
            with Measure(audit_phase, profiler):
                audit = await run_audit(bootstrap, prefix=prefix)
            audit_phase.records, audit_phase.seconds = audit.events, audit.elapsed_s
            audit_phase.extra.update(passed=audit.report.passed,
                                     failed=audit.report.failed_names())
            console.print(f"  audit: {audit.events:,} in {audit.elapsed_s:.1f}s "
                          f"({audit.events_per_s:,.0f}/s), "
                          f"{'all invariants hold' if audit.report.passed else 'FAILED: '}"
                          f"{', '.join(audit.report.failed_names())}", highlight=False)
            if profiler:
                profiles["audit"] = _profile_text(profiler, args.profile_top)

        # 4. replay, service by service
        replays: dict[str, Phase] = {}
        for service in args.services:
            phase = Phase(f"replay {service}")
            profiler = cProfile.Profile() if args.profile else None
            with Measure(phase, profiler):
                rebuilt = await rebuild(service, schemas[service], prefix,
                                        database_url=database_url, bootstrap_servers=bootstrap,
                                        processes=args.processes)
            phase.records = rebuilt.stats.records
            phase.seconds = rebuilt.read_s + rebuilt.write_s
            phase.extra.update(
                read_fold_s=round(rebuilt.read_s, 3), write_s=round(rebuilt.write_s, 3),
                read_fold_events_per_s=round(rebuilt.stats.records / rebuilt.read_s, 1),
                applied=rebuilt.stats.applied, duplicates=rebuilt.stats.duplicates,
                undecodable=rebuilt.stats.undecodable, broken=len(rebuilt.stats.broken),
                rows=rebuilt.rows, processes=rebuilt.processes)
            replays[service] = phase
            console.print(f"  {rebuilt.summary()}", highlight=False)
            if profiler:
                profiles[f"replay {service}"] = _profile_text(profiler, args.profile_top)
            await drop_schemas(database_url, [schemas[service]])

        # 4b. a replay in several processes also next to raw decode in as many
        parallel_raw: dict[str, Phase] = {}
        for service, phase in replays.items():
            processes = int(phase.extra["processes"])
            if processes > 1:
                parallel_raw[service] = await raw_decode_in_processes(
                    bootstrap, prefix, sets[service], processes,
                    f"raw decode {service} in {processes} processes")
                console.print(f"  {parallel_raw[service].name}: "
                              f"{parallel_raw[service].rate:,.0f}/s", highlight=False)

        # 5. optional: stage by stage, in memory
        if args.breakdown:
            result["breakdown"] = await breakdown(bootstrap, prefix, tuple(args.services),
                                                  not args.skip_audit)
    finally:
        with contextlib.suppress(Exception):
            await drop_schemas(database_url, list(schemas.values()))
        if not args.keep:
            try:
                await delete_topics(bootstrap, prefix)
                console.print(f"deleted the topics under {prefix}")
            except Exception as error:  # noqa: BLE001 - leftovers are harmless; say so
                console.print(f"[yellow]could not delete the topics under {prefix}: "
                              f"{error!r}[/yellow]")
        else:
            console.print(f"kept the topics: --reuse {prefix}")

    # The replay total, against raw decode of the same topic sets (time-weighted the same way).
    total = Phase("replay total", records=sum(p.records for p in replays.values()),
                  seconds=sum(p.seconds for p in replays.values()))
    raw_total = {kind: Phase(f"raw {kind} (replay topic sets)",
                             records=sum(raw[s][kind].records for s in replays),
                             seconds=sum(raw[s][kind].seconds for s in replays))
                 for kind in ("consume", "decode")}
    verdicts = {}
    for service, phase in replays.items():
        verdicts[service] = phase.rate / raw[service]["decode"].rate
    verdicts["replay total"] = total.rate / raw_total["decode"].rate if total.seconds else 0.0
    if audit_phase.seconds:
        verdicts["audit"] = audit_phase.rate / raw["all topics"]["decode"].rate

    table = Table(title=f"replay and audit over {prefix}* ({env['git_commit']}, "
                        f"{env['date']})",
                  caption="ev/s: records per second of wall time. vs raw decode: the rate "
                          "over the raw consume+decode rate of the same topics, in this run "
                          "(target for replay: >= 50%). py CPU: this process's CPU / wall (not a "
                          "rebuild's own processes); "
                          "machine: all CPUs busy (Kafka, PostgreSQL, this process, others).")
    for column in ("pass", "topics", "records", "seconds", "ev/s", "raw consume ev/s",
                   "raw +decode ev/s", "vs raw decode", "py CPU", "machine", "notes"):
        table.add_column(column, justify="left" if column in ("pass", "topics", "notes")
                         else "right")

    def topic_list(topics: tuple[Topic, ...]) -> str:
        return "all" if topics == ALL_TOPICS else ", ".join(t.name for t in topics)

    def row(phase: Phase, label: str, topics: str, raw_pair: dict[str, Phase],
            verdict: float | None, notes: str) -> None:
        py = phase.cpu_s / phase.seconds if phase.seconds and phase.cpu_s else None
        table.add_row(label, topics, f"{phase.records:,}", f"{phase.seconds:.1f}",
                      _rate(phase.rate), _rate(raw_pair["consume"].rate),
                      _rate(raw_pair["decode"].rate),
                      _share(verdict), f"{py:.2f}" if py else "-", _share(phase.machine), notes)

    for label in sets:
        pair = raw[label]
        row(pair["decode"], f"raw decode: {label}", topic_list(sets[label]), pair, 1.0,
            f"consume only: {pair['consume'].seconds:.1f}s")
    if audit_phase.seconds:
        row(audit_phase, "audit", "all", raw["all topics"], verdicts["audit"],
            "all invariants hold" if audit_phase.extra.get("passed")
            else f"FAILED {audit_phase.extra.get('failed')}")
    parallel_verdicts = {service: phase.rate / parallel_raw[service].rate
                         for service, phase in replays.items() if service in parallel_raw}
    for service, phase in replays.items():
        processes = int(phase.extra["processes"])
        parallel_note = (f"; {processes} processes, vs raw decode in {processes} processes "
                         f"({_rate(parallel_raw[service].rate)}/s): "
                         f"{_share(parallel_verdicts[service])}"
                         if service in parallel_raw else "")
        row(phase, f"replay {service}", topic_list(sets[service]), raw[service],
            verdicts[service],
            f"read+fold {phase.extra['read_fold_s']:.1f}s "
            f"({_rate(phase.extra['read_fold_events_per_s'])}/s), "
            f"write {phase.extra['write_s']:.1f}s{parallel_note}")
    if replays:
        row(total, "replay total", "3 services", raw_total, verdicts["replay total"],
            "sum of the three")
    Console(width=max(Console().width, 220)).print(table)

    target_met = {name: ratio >= 0.5 for name, ratio in verdicts.items()}
    for name, ratio in verdicts.items():
        console.print(f"{name}: {ratio:.0%} of the raw consume+decode rate of its topics - "
                      f"{'meets' if ratio >= 0.5 else 'MISSES'} the target (>= 50%)"
                      if name != "audit" else
                      f"audit: {ratio:.0%} of the raw consume+decode rate of all topics",
                      highlight=False)
    for name, text in profiles.items():
        console.print(f"[bold]profile: {name}[/bold]")
        print(text, file=sys.stderr)

    result.update({
        "raw": {label: {kind: phase.as_json() for kind, phase in pair.items()}
                for label, pair in raw.items()},
        "audit": audit_phase.as_json() if audit_phase.seconds else None,
        "replay": {service: phase.as_json() for service, phase in replays.items()},
        "replay_total": total.as_json(),
        "ratio_to_raw_decode": {name: round(ratio, 3) for name, ratio in verdicts.items()},
        "raw_decode_in_processes": {service: phase.as_json()
                                    for service, phase in parallel_raw.items()},
        "ratio_to_raw_decode_in_as_many_processes": {
            name: round(ratio, 3) for name, ratio in parallel_verdicts.items()},
        "replay_target_met": all(ok for name, ok in target_met.items() if name != "audit"),
    })
    sys.stdout.write("RESULT " + json.dumps(result, separators=(",", ":"), default=str) + "\n")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.replay_audit",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="at least this many events in the log (default 1000000)")
    parser.add_argument("--viewers", type=int, default=50_000)
    parser.add_argument("--creators", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", metavar="PREFIX",
                        help="measure the topics under PREFIX (kept by an earlier --keep run) "
                             "instead of generating a log")
    parser.add_argument("--keep", action="store_true",
                        help="keep the topics (for --reuse); schemas are always dropped")
    parser.add_argument("--services", type=lambda s: tuple(s.split(",")),
                        default=SERVICES, help="replays to run (default wallet,gifting,payout)")
    parser.add_argument("--skip-audit", action="store_true")
    parser.add_argument("--processes", type=int, default=None,
                        help="processes per wallet/payout rebuild (default: the rebuild's "
                             "own choice by log size and CPUs; 1 = in this process)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time each replay and the audit stage by stage in memory "
                             "(read+decode, fold, rows/report), without a profiler")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the audit and each replay (slows them ~2x)")
    parser.add_argument("--profile-top", type=int, default=25)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
