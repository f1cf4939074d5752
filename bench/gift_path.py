"""The real gift path under load: wallet, gifting and payout as processes on the real Kafka and
PostgreSQL, fed open-loop gift requests by the demo's simulated economy.

    python -m bench.gift_path [--rates 300,1000,2000] [--seconds 60]
                              [--capacity-rates 500,1000,2000,4000,8000] [--capacity-seconds 20]

1. setup (ops.demo): topics and schemas of a namespace of its own (`bench_<id>`), the three
   services started by ServiceFleet, the policy and the catalog, viewers who bought coins,
   creators with live streams; waits until the wallet has credited every purchase;
2. latency: for each rate, requests for --seconds (ops.simulation.traffic.drive: open loop,
   what is due every 10 ms), then until every request has its outcome and every sent gift its
   DiamondsEarned; latencies and hops from bench.gift_trace (matched by request_id);
3. capacity: rising rates for --capacity-seconds each, until decided/s (final outcomes seen
   per second) rises by less than MIN_GAIN; the pipe is drained between steps;
4. checks: settled (ops.backlog), the audit over the namespace's whole log and the read models
   against it (ops.audit);
5. plumbing (bench.gift_plumbing): the capacity run's Kafka records and PostgreSQL rows again,
   with aiokafka and asyncpg alone; coinlog's decided/s as a share of it;
6. peer (bench.eventsourcing_peer): the `eventsourcing` library's spends/s on the same database.

Prints rich tables and one line `RESULT {json}`. The namespace's topics and schemas are deleted
at the end, also on Ctrl-C or SIGTERM. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from bench import eventsourcing_peer, gift_plumbing
from bench.gift_trace import HOPS, GiftProbe, hop_spreads
from bench.log_generator import delete_topics
from bench.machine import MachineCpu, cpu_by_command, postgres_version, process_cpu_s
from ops.demo import SETTLE_TIMEOUT_S, Demo
from ops.demo_progress import Progress
from ops.interruption import Interrupted
from ops.kafka_partitions import partitions_of
from ops.namespace import Namespace
from ops.simulation.traffic import GiftTraffic, drive
from ops.stack import ROOT
from ops.verdict import Verdict
from services.registry import NAMES, SERVICES
from shared import kafka_client
from shared.contract.topics import GIFT_REQUESTS, GIFTS, PAYOUT_LEDGER, WALLET_LEDGER
from shared.settings import Settings

console = Console(stderr=True, soft_wrap=True)
LOG_DIR = ROOT / ".local" / "bench" / "gift_path"
GIFT_PATH_TOPICS = (GIFT_REQUESTS, GIFTS, WALLET_LEDGER, PAYOUT_LEDGER)
REQUESTS_PER_VIEWER = 12
"""Requests GiftTraffic draws per viewer of the demo's population before their coins run out
(measured: ~12.2); the population is sized from the requests planned, with a margin."""
MIN_GAIN = 0.05
"""Capacity steps go on while decided/s rises by at least this share."""
STATS_FLUSH_S = 11.0
"""PostgreSQL's backends report their row counts when idle at the latest after 10 s
(PGSTAT_IDLE_INTERVAL); waited before reading them."""
METRICS = ("coinlog_batch_duration_seconds_count", "coinlog_batch_duration_seconds_sum",
           "coinlog_events_applied_total")


# ------------------------------------------------------------------------------ load

@dataclass(frozen=True)
class LoadSample:
    """Counters at one moment: each service's batches and CPU, PostgreSQL's and Kafka's CPU."""

    at: float
    services: dict[str, dict[str, float]]
    commands: dict[str, float]
    bench_cpu_s: float
    machine: MachineCpu

    def since(self, earlier: LoadSample) -> dict[str, Any]:
        wall = self.at - earlier.at
        services = {}
        for name, now in self.services.items():
            before = earlier.services.get(name, {})
            delta = {key: now[key] - before.get(key, 0.0) for key in now}
            batches = delta["coinlog_batch_duration_seconds_count"]
            services[name] = {
                "batches": int(batches),
                "events": int(delta["coinlog_events_applied_total"]),
                "mean_batch": round(delta["coinlog_events_applied_total"] / batches, 1)
                if batches else None,
                "txn_ms": round(1000 * delta["coinlog_batch_duration_seconds_sum"] / batches, 2)
                if batches else None,
                "txn_busy": round(delta["coinlog_batch_duration_seconds_sum"] / wall, 3),
                "cpu": round(delta["cpu_s"] / wall, 3)}
        return {"seconds": round(wall, 2), "services": services,
                "postgres_cpu": round((self.commands["postgres"]
                                       - earlier.commands["postgres"]) / wall, 3),
                "kafka_cpu": round((self.commands["java"] - earlier.commands["java"]) / wall, 3),
                "bench_cpu": round((self.bench_cpu_s - earlier.bench_cpu_s) / wall, 3),
                "machine_busy": _round(earlier.machine.busy(), 3)}


def _round(value: float | None, digits: int = 1) -> float | None:
    return round(value, digits) if value is not None else None


def _scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    values = dict.fromkeys(METRICS, 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in values:
                values[sample.name] += sample.value
    return values


@dataclass
class Phase:
    """One stretch of offered load: its requests and what the machine did meanwhile."""

    name: str
    rate: float
    seconds: float
    request_ids: list[str]
    started: float
    ended: float
    load: dict[str, Any]
    ran_out: bool = False

    @property
    def offered_per_s(self) -> float:
        return len(self.request_ids) / (self.ended - self.started)


@dataclass
class Report:
    environment: dict[str, Any]
    latency: list[dict[str, Any]] = field(default_factory=list)
    capacity: list[dict[str, Any]] = field(default_factory=list)
    sustained_decided_per_s: float | None = None
    checks: list[Verdict] = field(default_factory=list)
    plumbing: gift_plumbing.Plumbing | None = None
    peer: list[eventsourcing_peer.PeerRun] = field(default_factory=list)
    peer_note: str | None = None
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ the run

class GiftBench(Demo):
    """The demo's setup and checks, with measured load in between."""

    async def prepare(self, resources: contextlib.AsyncExitStack, viewers: int,
                      creators: int) -> None:
        await self._start(resources)  # publishes the policy and the catalog
        # The sealer is no part of the gift path; in this process it would take CPU from
        # the load generator and the probe.
        await self.sealing.stop()
        progress = Progress(self.publisher)
        self.population = await self._set_up(progress, viewers, creators)
        self.traffic = GiftTraffic(self.population, self.outside, self.rng)
        self.gift_probe = GiftProbe(self.kafka, self.publisher.gift_requested_at,
                                    self.topic_prefix)
        resources.push_async_callback(self.gift_probe.stop)
        await self.gift_probe.start()

    async def sample(self) -> LoadSample:
        # Summed over a service's instances: counters and CPU seconds add up.
        services: dict[str, dict[str, float]] = {}
        for service in self.fleet.services.values():
            values = await asyncio.to_thread(_scrape, service.base_url + "/metrics")
            pid = service.process.pid if service.process else None
            values["cpu_s"] = (process_cpu_s(pid) or 0.0) if pid else 0.0
            summed = services.setdefault(service.name, {})
            for key, value in values.items():
                summed[key] = summed.get(key, 0.0) + value
        return LoadSample(time.monotonic(), services, cpu_by_command(), time.process_time(),
                          MachineCpu())

    async def offer(self, name: str, rate: float, seconds: float) -> Phase:
        already = len(self.publisher.gift_requested_at)
        before = await self.sample()
        started = time.monotonic()
        sent = await drive(self.traffic, self.publisher, rate=rate, seconds=seconds,
                           stop=self.interruption.requested)
        await self.publisher.flush()
        ended = time.monotonic()
        self.interruption.checkpoint()
        load = (await self.sample()).since(before)
        ids = list(itertools.islice(self.publisher.gift_requested_at, already, None))
        ran_out = ended - started < seconds * 0.99
        console.print(f"{name} {rate:g}/s: published {sent:,} requests in "
                      f"{ended - started:.1f} s" + (" (viewers ran out of coins)"
                                                    if ran_out else ""), highlight=False)
        return Phase(name, rate, seconds, ids, started, ended, load, ran_out)

    async def drain(self, phase: Phase, timeout_s: float = SETTLE_TIMEOUT_S) -> float:
        """Wait until every request of the phase is decided and every sent gift earned;
        return how long after the phase ended that was."""
        pending = set(phase.request_ids)

        async def all_decided() -> bool:
            pending.difference_update([rid for rid in pending
                                       if self.gift_probe.settled((rid,))])
            return not pending

        await self._wait_for(all_decided, f"the outcomes of the {phase.name} phase",
                             timeout_s)
        return time.monotonic() - phase.ended

    async def latency(self, rate: float, seconds: float) -> dict[str, Any]:
        phase = await self.offer("latency", rate, seconds)
        drained_s = await self.drain(phase)
        traces = [self.gift_probe.traces[rid] for rid in phase.request_ids]
        hops = hop_spreads(traces, self.gift_probe.wall_offset)
        outcomes = Counter(trace.outcome for trace in traces)
        decided = self.gift_probe.decided_between(phase.started, phase.ended + drained_s)
        to_outcome = hops[HOPS[0][0]]
        console.print(f"  to the outcome (ms, p50 / p99 / max): {_ms(to_outcome.as_json())}; "
                      f"drained {drained_s:.1f} s after", highlight=False)
        return {"rate": rate, "seconds": seconds, "requests": len(phase.request_ids),
                "offered_per_s": round(phase.offered_per_s, 1), "ran_out": phase.ran_out,
                "decided": decided, "drained_s": round(drained_s, 2),
                "outcomes": dict(outcomes), "hops": {n: s.as_json() for n, s in hops.items()},
                "load": phase.load}

    async def capacity_step(self, rate: float, seconds: float) -> dict[str, Any]:
        phase = await self.offer("capacity", rate, seconds)
        warm_s = min(2.0, seconds / 10)
        window = phase.ended - phase.started - warm_s
        decided = self.gift_probe.decided_between(phase.started + warm_s, phase.ended)
        drained_s = await self.drain(phase)
        step = {"rate": rate, "seconds": seconds, "requests": len(phase.request_ids),
                "offered_per_s": round(phase.offered_per_s, 1), "ran_out": phase.ran_out,
                "decided_per_s": round(decided / window, 1), "drained_s": round(drained_s, 2),
                "load": phase.load}
        console.print(f"  decided {step['decided_per_s']:,.0f}/s; drained {drained_s:.1f} s "
                      "after", highlight=False)
        return step

    async def capacity(self, rates: Sequence[float], seconds: float,
                       report: Report) -> None:
        best = 0.0
        for rate in rates:
            step = await self.capacity_step(rate, seconds)
            report.capacity.append(step)
            decided = float(step["decided_per_s"])
            if decided < best * (1 + MIN_GAIN) or step["ran_out"]:
                best = max(best, decided)
                break
            best = decided
        report.sustained_decided_per_s = best

    async def checks(self) -> list[Verdict]:
        settled = await self._settle()
        results = [Verdict("everything settled", settled,
                           "every outbox empty, every consumer caught up" if settled
                           else f"still behind after {SETTLE_TIMEOUT_S:.0f} s")]
        return results + await self._audit()


# ------------------------------------------------------------------------------ plumbing

ROW_COUNTS = """
SELECT schemaname AS schema, sum(n_tup_ins + n_tup_upd + n_tup_del)::bigint AS rows
FROM pg_stat_user_tables WHERE schemaname = ANY($1::text[]) GROUP BY schemaname
"""


@dataclass(frozen=True)
class Mark:
    """Where the log and the database stood at one moment (the capacity run's bounds)."""

    ends: dict[tuple[str, int], int]
    rows: dict[str, int]
    load: LoadSample
    requests: int


async def topic_ends(bootstrap: str, prefix: str) -> dict[tuple[str, int], int]:
    partitions = await partitions_of(bootstrap, [prefix + t.name for t in GIFT_PATH_TOPICS])
    consumer = kafka_client.consumer(bootstrap_servers=bootstrap, group_id=None,
                                     enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): end for tp, end in ends.items()}


async def mark(bench: GiftBench) -> Mark:
    await asyncio.sleep(STATS_FLUSH_S)  # the services' row counts reach pg_stat by then
    schemas = {bench.namespace.schema(d.name): d.name for d in SERVICES}
    found = await bench.pool.fetch(ROW_COUNTS, list(schemas))
    rows = dict.fromkeys(schemas.values(), 0) | {schemas[r["schema"]]: r["rows"] for r in found}
    return Mark(await topic_ends(bench.kafka, bench.topic_prefix), rows, await bench.sample(),
                len(bench.publisher.gift_requested_at))


def consumed_ranges(prefix: str, ranges: gift_plumbing.Ranges
                    ) -> dict[str, gift_plumbing.Ranges]:
    """Per service, the records of `ranges` on the topics its consumers read."""
    by_service = {}
    for definition in SERVICES:
        topics = {prefix + topic.name for spec in definition.consumers for topic in spec.topics}
        by_service[definition.name] = {where: span for where, span in ranges.items()
                                       if where[0] in topics}
    return by_service


async def plumbing(bench: GiftBench, before: Mark, after: Mark,
                   database_url: str) -> gift_plumbing.Plumbing:
    ranges = {where: (before.ends.get(where, 0), end) for where, end in after.ends.items()}
    load = after.load.since(before.load)["services"]
    writes = [gift_plumbing.Writes(name, int(load[name]["batches"]),
                                   after.rows[name] - before.rows[name])
              for name in after.rows]
    probe = bench.gift_probe
    return await asyncio.to_thread(
        gift_plumbing.measure, gifts=after.requests - before.requests,
        bootstrap=bench.kafka, database_url=database_url,
        schema=f"{bench.namespace.schema_prefix}plumbing", produced=ranges,
        consumed=consumed_ranges(bench.topic_prefix, ranges), writes=writes,
        row_bytes=probe.value_bytes // max(1, probe.records))


async def peer(args: argparse.Namespace, bench: GiftBench, report: Report) -> None:
    report.peer_note = await asyncio.to_thread(eventsourcing_peer.available, args.install_peer)
    if report.peer_note is not None:
        console.print(f"[yellow]peer skipped: {report.peer_note}[/]")
        return
    schema = f"{bench.namespace.schema_prefix}peer"
    await bench.pool.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    for threads in args.peer_threads:
        try:
            run = await asyncio.to_thread(eventsourcing_peer.run, bench.database_url, schema,
                                          threads, args.peer_seconds)
        except Exception as error:  # noqa: BLE001 - the peer failing must not cost the run
            report.peer_note = f"{threads} threads failed: {error!r}"[:300]
            console.print(f"[yellow]peer: {report.peer_note}[/]")
            return
        report.peer.append(run)
        console.print(f"peer (eventsourcing, {threads} threads): {run.spends_per_s:,.0f} "
                      "spends/s", highlight=False)


# ------------------------------------------------------------------------------ orchestration

def viewers_for(args: argparse.Namespace) -> int:
    planned = (sum(rate * args.seconds for rate in args.rates)
               + sum(rate * args.capacity_seconds for rate in args.capacity_rates))
    return max(200, math.ceil(1.2 * planned / REQUESTS_PER_VIEWER))


async def run_bench(args: argparse.Namespace, bench: GiftBench, report: Report) -> None:
    async with contextlib.AsyncExitStack() as resources:
        viewers = args.viewers or viewers_for(args)
        console.print(f"setting up {viewers:,} viewers and {args.creators} creators")
        await bench.prepare(resources, viewers, args.creators)
        for rate in args.rates:
            report.latency.append(await bench.latency(rate, args.seconds))
        before = await mark(bench) if args.capacity_rates else None
        if args.capacity_rates:
            await bench.capacity(args.capacity_rates, args.capacity_seconds, report)
        console.print("settling, then the audit over the whole log and the read models")
        report.checks = await bench.checks()
        after = await mark(bench) if before is not None else None
        await bench.gift_probe.stop()
        await bench.fleet.stop()  # the machine to the plumbing and the peer alone
        if before is not None and after is not None and not args.skip_plumbing:
            console.print(f"plumbing: {after.requests - before.requests:,} gifts' records and "
                          "rows with aiokafka and asyncpg alone")
            report.plumbing = await plumbing(bench, before, after, bench.database_url)
            console.print(f"  {report.plumbing.gifts_per_s:,.0f} gifts/s", highlight=False)
        if not args.skip_peer:
            await peer(args, bench, report)


async def cleanup(base: Settings, namespace: Namespace) -> None:
    try:
        await delete_topics(base.kafka_bootstrap_servers, namespace.topic_prefix)
        console.print(f"deleted the topics under {namespace.topic_prefix}")
    except Exception as error:  # noqa: BLE001 - leftovers are harmless; say so
        console.print(f"[yellow]could not delete the topics under {namespace.topic_prefix}: "
                      f"{error!r}[/]")
    names = [d.name for d in SERVICES] + ["plumbing", "peer"]
    conn = await asyncpg.connect(base.database_url)
    try:
        for name in names:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{namespace.schema(name)}" CASCADE')
    finally:
        await conn.close()


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


async def environment(base: Settings) -> dict[str, Any]:
    window = MachineCpu()
    await asyncio.sleep(1.0)  # how busy the machine is before the run, over one second
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"),
            "git_commit": _git_commit(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform(),
            "postgres": await postgres_version(base.database_url),
            "load_avg": os.getloadavg(), "machine_busy_before": _round(window.busy(), 3),
            "batch_max_records": base.batch_max_records,
            "batch_timeout_ms": base.batch_timeout_ms}


def stop_on_sigterm() -> None:
    with contextlib.suppress(NotImplementedError):
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


def namespace_for(kind: str) -> Namespace:
    namespace = Namespace.isolated(f"{kind}_{uuid.uuid4().hex[:8]}")
    console.print(f"namespace {namespace.topic_prefix}* / {namespace.schema_prefix}*; service "
                  f"logs in {LOG_DIR}", highlight=False)
    return namespace


async def run_in_namespace(base: Settings, namespace: Namespace, bench: GiftBench,
                           run: Callable[[], Awaitable[None]]) -> bool:
    """Run; False when interrupted. The namespace's topics and schemas go in any case."""
    try:
        with bench.interruption.handling_ctrl_c():
            await run()
    except Interrupted:
        console.print("[yellow]interrupted[/]")
        return False
    finally:
        await cleanup(base, namespace)
    return True


async def main(args: argparse.Namespace) -> int:
    stop_on_sigterm()
    base = Settings()
    report = Report(await environment(base))
    namespace = namespace_for("bench")
    bench = GiftBench(console, base.kafka_bootstrap_servers, base.database_url, namespace,
                      log_dir=LOG_DIR, instances=args.instances)
    if not await run_in_namespace(base, namespace, bench,
                                  lambda: run_bench(args, bench, report)):
        return 130
    print_report(args, report)
    return 0 if all(check.passed for check in report.checks) else 1


# ------------------------------------------------------------------------------ output

def _ms(hop: dict) -> str:
    if not hop["count"]:
        return "-"
    return f"{hop['p50_ms']:,.0f} / {hop['p99_ms']:,.0f} / {hop['max_ms']:,.0f}"


def _share(value: object) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else "-"


def _service_cells(load: dict) -> list[str]:
    """Per service: share of the time inside batch transactions, CPU, mean batch."""
    cells = []
    for name in ("gifting", "wallet", "payout"):
        figures = load["services"].get(name, {})
        cells.append(f"{_share(figures.get('txn_busy'))} / {figures.get('cpu', 0):.2f} / "
                     f"{figures.get('mean_batch') or '-'}")
    return cells


def _machine_cells(load: dict) -> list[str]:
    return [f"{load['postgres_cpu']:.2f}", f"{load['kafka_cpu']:.2f}",
            f"{load['bench_cpu']:.2f}", _share(load["machine_busy"])]


LOAD_COLUMNS = ("gifting busy/CPU/batch", "wallet busy/CPU/batch", "payout busy/CPU/batch",
                "PG CPU", "Kafka CPU", "bench CPU", "machine")


def latency_table(report: Report) -> Table:
    table = Table(title="latency at fixed offered rates (ms: p50 / p99 / max)",
                  caption="busy: share of the time inside batch transactions; CPU: cores "
                          "used (1.0 = one core); batch: mean events per batch. PG and Kafka "
                          "CPU: every postgres and java process on the machine.",
                  caption_justify="left")
    for column in ("rate/s", "offered/s", "requests", "sent / failed / rejected",
                   "to outcome seen", "to DiamondsEarned seen", "drained s", *LOAD_COLUMNS):
        table.add_column(column, justify="right")
    for phase in report.latency:
        outcomes = phase["outcomes"]
        hops = phase["hops"]
        table.add_row(
            f"{phase['rate']:g}", f"{phase['offered_per_s']:,.0f}", f"{phase['requests']:,}",
            f"{outcomes.get('sent', 0):,} / {outcomes.get('failed', 0):,} / "
            f"{outcomes.get('rejected', 0):,}",
            _ms(hops[HOPS[0][0]]), _ms(hops[HOPS[1][0]]), f"{phase['drained_s']:.1f}",
            *_service_cells(phase["load"]), *_machine_cells(phase["load"]))
    return table


def hops_table(report: Report) -> Table:
    table = Table(title="where the time goes, per hop (ms: p50 / p99 / max)",
                  caption="Appended: the record's Kafka timestamp (CreateTime, set when the "
                          "producer, for the services their outbox relay, is handed the "
                          "record). Seen: when this process read it. See bench/README.md for "
                          "what each hop includes.", caption_justify="left")
    table.add_column("hop", justify="left")
    table.add_column("from -> to", justify="left")
    for phase in report.latency:
        table.add_column(f"{phase['rate']:g}/s", justify="right")
    for name, what in HOPS:
        table.add_row(name, what, *[_ms(phase["hops"][name]) for phase in report.latency])
    return table


def capacity_table(report: Report) -> Table:
    table = Table(title=f"capacity: rising offered rates (sustained: "
                        f"{report.sustained_decided_per_s or 0:,.0f} decided/s)",
                  caption="decided/s: final outcomes (sent, failed, rejected) seen per "
                          "second, after the first 10 % of the step (2 s at most).",
                  caption_justify="left")
    for column in ("rate/s", "offered/s", "decided/s", "drained s", *LOAD_COLUMNS):
        table.add_column(column, justify="right")
    for step in report.capacity:
        table.add_row(f"{step['rate']:g}", f"{step['offered_per_s']:,.0f}"
                      + (" (ran out)" if step["ran_out"] else ""),
                      f"{step['decided_per_s']:,.0f}", f"{step['drained_s']:.1f}",
                      *_service_cells(step["load"]), *_machine_cells(step["load"]))
    return table


def summary_table(report: Report) -> Table:
    table = Table(title="limits and checks", show_header=False)
    table.add_column("what", justify="left")
    table.add_column("value", justify="left")
    sustained = report.sustained_decided_per_s
    table.add_row("coinlog, sustained", f"{sustained:,.0f} decided gifts/s" if sustained
                  else "-")
    if report.plumbing is not None:
        parts = ", ".join(f"{name} {figures['gifts_per_s'] or 0:,.0f}"
                          for name, figures in report.plumbing.as_json()["parts"].items())
        table.add_row("plumbing (aiokafka + asyncpg alone)",
                      f"{report.plumbing.gifts_per_s:,.0f} gifts/s ({parts} gifts/s each)")
        if sustained:
            table.add_row("coinlog / plumbing", _share(sustained / report.plumbing.gifts_per_s))
    for run in report.peer:
        table.add_row(f"peer: eventsourcing, {run.threads} threads",
                      f"{run.spends_per_s:,.0f} spends/s (one command per spend)")
    if report.peer_note:
        table.add_row("peer: eventsourcing", f"not measured: {report.peer_note}")
    for check in report.checks:
        table.add_row(("[green]ok[/] " if check.passed else "[red]FAILED[/] ") + check.name,
                      check.detail)
    return table


def print_report(args: argparse.Namespace, report: Report) -> None:
    wide = Console(width=max(Console().width, 200))
    if report.latency:
        wide.print(latency_table(report))
        wide.print(hops_table(report))
    if report.capacity:
        wide.print(capacity_table(report))
    wide.print(summary_table(report))
    result = {
        "environment": report.environment,
        "settings": {"rates": args.rates, "seconds": args.seconds,
                     "capacity_rates": args.capacity_rates,
                     "capacity_seconds": args.capacity_seconds, "creators": args.creators,
                     "instances": args.instances},
        "latency": report.latency, "capacity": report.capacity,
        "sustained_decided_per_s": report.sustained_decided_per_s,
        "plumbing": report.plumbing.as_json() if report.plumbing else None,
        "share_of_plumbing": round(report.sustained_decided_per_s
                                   / report.plumbing.gifts_per_s, 3)
        if report.plumbing and report.sustained_decided_per_s else None,
        "peer": [run.as_json() for run in report.peer], "peer_note": report.peer_note,
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail}
                   for c in report.checks],
        "passed": all(check.passed for check in report.checks)}
    sys.stdout.write("RESULT " + json.dumps(result, separators=(",", ":"), default=str) + "\n")


def _numbers(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def _instances(text: str) -> dict[str, int]:
    counts = {}
    for item in filter(None, text.split(",")):
        name, _, count = item.partition("=")
        if name not in NAMES or not count.isdigit() or int(count) < 1:
            raise argparse.ArgumentTypeError(f"not SERVICE=COUNT of a service: {item!r}")
        counts[name] = int(count)
    return counts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.gift_path",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rates", type=_numbers, default=[300.0, 1000.0, 2000.0],
                        help="offered gift requests/s of the latency phases (default "
                             "300,1000,2000; empty: none)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="how long each latency rate is offered (default 60)")
    parser.add_argument("--capacity-rates", type=_numbers,
                        default=[500.0, 1000.0, 2000.0, 4000.0, 8000.0],
                        help="rising offered rates of the capacity steps (default "
                             "500,1000,2000,4000,8000; empty: no capacity run, no plumbing)")
    parser.add_argument("--capacity-seconds", type=float, default=20.0,
                        help="how long each capacity step lasts (default 20)")
    parser.add_argument("--viewers", type=int, default=0,
                        help="simulated viewers (default: enough coins for every request "
                             "planned)")
    parser.add_argument("--creators", type=int, default=20)
    parser.add_argument("--instances", type=_instances, default={},
                        help="processes per service sharing its partitions, e.g. "
                             "gifting=2,wallet=2 (default: one each)")
    parser.add_argument("--skip-plumbing", action="store_true")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--no-install-peer", dest="install_peer", action="store_false",
                        help="do not pip-install eventsourcing when it is missing")
    parser.add_argument("--peer-threads", type=lambda t: [int(n) for n in t.split(",")],
                        default=[1, 4], help="thread counts of the peer runs (default 1,4)")
    parser.add_argument("--peer-seconds", type=float, default=10.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
