"""A soak of the live gift path: a million gift requests through wallet, gifting and payout as
processes on the real Kafka and PostgreSQL, from a population with a heavy gifter and a heavy
creator. Does it stay flat over time and over the size of the history?

    python -m bench.gift_soak [--requests 1000000] [--rate 1300]
                              [--heavy-viewer-gifts 20000] [--heavy-creator-gifts 200000]
                              [--probe-rate 300] [--probe-seconds 20]

1. setup as bench.gift_path (the demo's population), plus one viewer who sends
   --heavy-viewer-gifts roses over the soak (bought as packs of 17,500 coins) and one creator
   whose stream draws --heavy-creator-gifts of the requests;
2. a latency probe at --probe-rate for --probe-seconds, drained: the gift path with no history;
3. the soak: --requests offered at --rate in ten tenths; after each tenth, each service
   instance's resident memory and its batches (count, mean size, time in the transaction);
4. drained, then the latency probe again: the same path after the history;
5. table scans over the soak, per table of the services' schemas (pg_stat_user_tables:
   sequential scans, the rows they read, index scans), read before the checks (which read
   whole tables on purpose);
6. checks: settled, the audit over the namespace's whole log and the read models against it.

Throughput per tenth: the final outcomes this process saw during the tenth, per second. At a
rate just below capacity (the default) it equals the offered rate while the services keep up;
a cost that grows with the history shows as a tenth that falls behind, with rising latency.
Above capacity it is the capacity as the history grows (less what the load generator takes).

Prints rich tables and one line `RESULT {json}`. The namespace's topics and schemas are deleted
at the end. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.gift_path import (
    LOG_DIR,
    REQUESTS_PER_VIEWER,
    STATS_FLUSH_S,
    GiftBench,
    Phase,
    environment,
    namespace_for,
    run_in_namespace,
    stop_on_sigterm,
)
from bench.gift_trace import HOPS, spread
from ops.simulation.people import PACKAGES, Creator, LiveStream, Population, Viewer
from ops.simulation.traffic import PRICES, GiftTraffic
from ops.verdict import Verdict
from services.registry import SERVICES
from shared.contract.events.streams import GiftRequested
from shared.settings import Settings

console = Console(stderr=True, soft_wrap=True)
TENTHS = 10
HEAVY_GIFT = "rose"
HEAVY_PACKAGE = "coins-17500"
FLAT_WITHIN = 0.10
"""The last tenth's throughput within this share of the first tenth's."""
SCANNED_ROWS = 1000
"""Sequential scans on the hot path that read more rows than this each, on average, are a
finding: a small table (the policy, the catalog, an outbox that keeps up) is read whole
faster than through an index."""


# ------------------------------------------------------------------------------ the population

class SoakTraffic:
    """The demo's gift traffic, with the heavy viewer's roses mixed in at their share."""

    def __init__(self, traffic: GiftTraffic, bench: SoakBench, share: float):
        self.traffic = traffic
        self.bench = bench
        self.share = share
        self.heavy_left = bench.heavy_viewer_gifts
        self._weights = list(itertools.accumulate(s.popularity for s in traffic.streams))

    def next_request(self) -> GiftRequested | None:
        bench = self.bench
        if self.heavy_left and bench.rng.random() < self.share:
            self.heavy_left -= 1
            stream = bench.rng.choices(self.traffic.streams, cum_weights=self._weights)[0]
            return bench.outside.gift_request(bench.heavy_viewer, stream.stream_id,
                                              HEAVY_GIFT, 1)
        return self.traffic.next_request()


def _rss_bytes(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class SoakBench(GiftBench):
    heavy_viewer_gifts = 0
    heavy_creator_share = 0.0
    heavy_viewer = ""
    heavy_creator = ""

    def _populate(self, viewers: int, creators: int) -> Population:
        """The demo's population, and the heavy two. The heavy viewer is not among the
        population's viewers: the demo's traffic would also spend their coins on Lions."""
        population = super()._populate(viewers, creators)
        outside = self.outside
        creator = Creator(outside.new_id("creator"))
        started = outside.stream_started(creator.creator_id)
        others = sum(stream.popularity for stream in population.streams)
        share = self.heavy_creator_share
        population.creators.append(creator)
        population.streams.append(LiveStream(started, popularity=others * share / (1 - share)))
        viewer = Viewer(outside.new_id("viewer"), adult=True)
        package = PACKAGES[HEAVY_PACKAGE]
        needed = self.heavy_viewer_gifts * PRICES[HEAVY_GIFT]
        viewer.purchases = [
            outside.purchase(viewer.user_id, package.package_id, package.platform,
                             package.coins, package.amount_minor)
            for _ in range(max(1, math.ceil(needed / package.coins)))]
        self.heavy_viewer, self.heavy_creator = viewer.user_id, creator.creator_id
        self.heavy_purchases = len(viewer.purchases)
        population.setup_events[:0] = [
            outside.age_verified(creator.creator_id, adult=True),
            outside.creator_verified(creator.creator_id), started,
            outside.age_verified(viewer.user_id, adult=True), *viewer.purchases]
        return population

    async def prepare_soak(self, resources: contextlib.AsyncExitStack, viewers: int,
                           creators: int, heavy_share: float) -> None:
        await self.prepare(resources, viewers, creators)

        async def heavy_credited() -> bool:
            return (await self.books.coins_credited([self.heavy_viewer])
                    == self.heavy_purchases)

        await self._wait_for(heavy_credited, "the heavy viewer's purchases",
                             self.setup_timeout_s)
        self.traffic = SoakTraffic(self.traffic, self, heavy_share)  # type: ignore[assignment]

    def resident(self) -> dict[str, int | None]:
        return {service.instance: _rss_bytes(service.process.pid if service.process else None)
                for service in self.fleet.services.values()}


# ------------------------------------------------------------------------------ the run

@dataclass
class Tenth:
    phase: Phase
    resident: dict[str, int | None]


@dataclass
class SoakReport:
    environment: dict[str, Any]
    settings: dict[str, Any]
    resident_before: dict[str, int | None] = field(default_factory=dict)
    tenths: list[dict[str, Any]] = field(default_factory=list)
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)
    scans: list[dict[str, Any]] = field(default_factory=list)
    """Over the whole soak."""
    last_tenth_scans: list[dict[str, Any]] = field(default_factory=list)
    heavy: dict[str, Any] = field(default_factory=dict)
    checks: list[Verdict] = field(default_factory=list)


TABLE_STATS = """
SELECT schemaname AS schema, relname AS table, seq_scan, seq_tup_read,
       coalesce(idx_scan, 0) AS idx_scan, n_live_tup
FROM pg_stat_user_tables WHERE schemaname = ANY($1::text[])
"""


async def table_stats(bench: SoakBench, *, flushed: bool = True
                      ) -> dict[tuple[str, str], dict[str, int]]:
    if flushed:
        await asyncio.sleep(STATS_FLUSH_S)  # idle backends' counts reach pg_stat by then
    schemas = {bench.namespace.schema(d.name): d.name for d in SERVICES}
    rows = await bench.pool.fetch(TABLE_STATS, list(schemas))
    return {(schemas[row["schema"]], row["table"]): dict(row) for row in rows}


def scans_between(before: dict[tuple[str, str], dict[str, int]],
                  after: dict[tuple[str, str], dict[str, int]]) -> list[dict[str, Any]]:
    found = []
    for (service, table), now in sorted(after.items()):
        then = before.get((service, table), {})
        seq = now["seq_scan"] - then.get("seq_scan", 0)
        found.append({"service": service, "table": table, "seq_scans": seq,
                      "seq_rows_read": now["seq_tup_read"] - then.get("seq_tup_read", 0),
                      "index_scans": now["idx_scan"] - then.get("idx_scan", 0),
                      "rows": now["n_live_tup"]})
    return found


def tenth_row(index: int, tenth: Tenth, bench: SoakBench) -> dict[str, Any]:
    phase = tenth.phase
    traces = [bench.gift_probe.traces.get(rid) for rid in phase.request_ids]
    waits = [1000 * (t.outcome_seen - t.requested) for t in traces
             if t is not None and t.outcome_seen is not None]
    latency = spread(waits).as_json()
    decided = bench.gift_probe.decided_between(phase.started, phase.ended)
    return {"tenth": index + 1, "requests": len(phase.request_ids),
            "offered_per_s": round(phase.offered_per_s, 1),
            "decided_per_s": round(decided / (phase.ended - phase.started), 1),
            "to_outcome": latency,
            "load": phase.load, "resident": tenth.resident}


async def probe(bench: SoakBench, name: str, rate: float, seconds: float) -> dict[str, Any]:
    console.print(f"latency probe ({name}): {rate:g}/s for {seconds:g} s")
    result = await bench.latency(rate, seconds)
    return {"rate": rate, "seconds": seconds, "requests": result["requests"],
            "hops": result["hops"], "load": result["load"]}


async def soak(args: argparse.Namespace, bench: SoakBench, report: SoakReport) -> None:
    per_tenth_s = args.requests / TENTHS / args.rate
    tenths = []
    last_tenth_from: dict[tuple[str, str], dict[str, int]] = {}
    for index in range(TENTHS):
        if index == TENTHS - 1:
            last_tenth_from = await table_stats(bench, flushed=False)
        phase = await bench.offer(f"soak {index + 1}/{TENTHS}", args.rate, per_tenth_s)
        tenths.append(Tenth(phase, bench.resident()))
        if phase.ran_out:
            break
    console.print("draining the soak")
    started = time.monotonic()
    for tenth in tenths:
        await bench.drain(tenth.phase, timeout_s=max(600.0, 2 * per_tenth_s * TENTHS))
    console.print(f"  drained {time.monotonic() - started:.1f} s after the last tenth")
    report.tenths = [tenth_row(i, tenth, bench) for i, tenth in enumerate(tenths)]
    if last_tenth_from:
        # Busy backends report their counts every second: no wait for them while loaded.
        report.last_tenth_scans = scans_between(last_tenth_from,
                                                await table_stats(bench, flushed=False))
    report.heavy = await heavy_figures(bench)


async def heavy_figures(bench: SoakBench) -> dict[str, Any]:
    """How heavy the heavy two became: the viewer's requests, the creator's stream's gifts by
    status (gifting's read model)."""
    traffic = bench.traffic
    assert isinstance(traffic, SoakTraffic)
    stream = traffic.traffic.streams[-1].stream_id
    return {"viewer": bench.heavy_viewer,
            "viewer_requests": bench.heavy_viewer_gifts - traffic.heavy_left,
            "creator": bench.heavy_creator,
            "creator_gifts": await bench.books.gift_status_counts([stream])}


async def run_soak(args: argparse.Namespace, bench: SoakBench, report: SoakReport) -> None:
    async with contextlib.AsyncExitStack() as resources:
        planned = args.requests + 2 * args.probe_rate * args.probe_seconds
        viewers = args.viewers or max(200, math.ceil(1.2 * planned / REQUESTS_PER_VIEWER))
        bench.heavy_viewer_gifts = args.heavy_viewer_gifts
        bench.heavy_creator_share = args.heavy_creator_gifts / args.requests
        bench.setup_timeout_s = max(bench.setup_timeout_s, viewers / 200)
        console.print(f"setting up {viewers:,} viewers, {args.creators} creators and the "
                      "heavy two")
        await bench.prepare_soak(resources, viewers, args.creators,
                                 args.heavy_viewer_gifts / args.requests)
        report.resident_before = bench.resident()
        report.probes["before"] = await probe(bench, "before", args.probe_rate,
                                              args.probe_seconds)
        before = await table_stats(bench)
        await soak(args, bench, report)
        report.scans = scans_between(before, await table_stats(bench))
        report.probes["after"] = await probe(bench, "after", args.probe_rate,
                                             args.probe_seconds)
        console.print("settling, then the audit over the whole log and the read models")
        report.checks = await bench.checks()
        report.checks += verdicts(report)
        await bench.gift_probe.stop()
        await bench.fleet.stop()


def verdicts(report: SoakReport) -> list[Verdict]:
    results = []
    if len(report.tenths) == TENTHS:
        first, last = report.tenths[0]["decided_per_s"], report.tenths[-1]["decided_per_s"]
        change = last / first - 1 if first else float("inf")
        results.append(Verdict(
            "throughput flat", abs(change) <= FLAT_WITHIN,
            f"last tenth {last:,.0f} decided/s vs first {first:,.0f}/s ({change:+.1%})"))
    scanned = [scan for scan in report.last_tenth_scans
               if scan["seq_scans"] and scan["seq_rows_read"] / scan["seq_scans"] > SCANNED_ROWS]
    results.append(Verdict(
        "no table scan in the last tenth", not scanned,
        f"no sequential scan read more than {SCANNED_ROWS:,} rows on average" if not scanned
        else ", ".join(f"{s['service']}.{s['table']} ({s['seq_scans']} scans, "
                       f"{s['seq_rows_read']:,} rows read)" for s in scanned)))
    return results


async def main(args: argparse.Namespace) -> int:
    stop_on_sigterm()
    base = Settings()
    report = SoakReport(await environment(base), settings=vars(args))
    namespace = namespace_for("soak")
    bench = SoakBench(console, base.kafka_bootstrap_servers, base.database_url, namespace,
                      log_dir=LOG_DIR)
    if not await run_in_namespace(base, namespace, bench,
                                  lambda: run_soak(args, bench, report)):
        return 130
    print_report(report)
    return 0 if all(check.passed for check in report.checks) else 1


# ------------------------------------------------------------------------------ output

def _ms(hop: dict) -> str:
    if not hop["count"]:
        return "-"
    return f"{hop['p50_ms']:,.0f} / {hop['p99_ms']:,.0f} / {hop['max_ms']:,.0f}"


def _mb(value: int | None) -> str:
    return f"{value / 2 ** 20:,.0f}" if value else "-"


def tenths_table(report: SoakReport) -> Table:
    instances = sorted(report.resident_before)
    table = Table(title="the soak, tenth by tenth",
                  caption="decided/s: final outcomes seen during the tenth. Latency "
                          "(ms p50 / p99 / max) of the tenth's requests, from published to "
                          "outcome seen: queueing, when offered above capacity. txn ms / batch: "
                          "mean time in a batch transaction and events per batch. RSS in MiB "
                          "after the tenth (before the soak in the header).",
                  caption_justify="left")
    for column in ("tenth", "offered/s", "decided/s", "latency", "gifting txn ms / batch",
                   "wallet txn ms / batch", "payout txn ms / batch",
                   *[f"{i} RSS ({_mb(report.resident_before[i])})" for i in instances]):
        table.add_column(column, justify="right")
    for row in report.tenths:
        services = row["load"]["services"]
        table.add_row(
            str(row["tenth"]), f"{row['offered_per_s']:,.0f}",
            f"{row['decided_per_s']:,.0f}", _ms(row["to_outcome"]),
            *[f"{services.get(n, {}).get('txn_ms') or '-'} / "
              f"{services.get(n, {}).get('mean_batch') or '-'}"
              for n in ("gifting", "wallet", "payout")],
            *[_mb(row["resident"].get(i)) for i in instances])
    return table


def probes_table(report: SoakReport) -> Table:
    table = Table(title="the gift path before and after the soak (ms: p50 / p99 / max)")
    table.add_column("hop", justify="left")
    for name in report.probes:
        table.add_column(f"{name} ({report.probes[name]['rate']:g}/s)", justify="right")
    for hop, _ in HOPS:
        table.add_row(hop, *[_ms(p["hops"][hop]) for p in report.probes.values()])
    return table


def scans_table(report: SoakReport) -> Table:
    table = Table(title="table scans (pg_stat_user_tables): over the soak | its last tenth")
    for column in ("table", "rows", "seq scans", "rows read by seq scans", "index scans",
                   "| seq scans", "rows read", "index scans"):
        table.add_column(column, justify="right")
    last = {(s["service"], s["table"]): s for s in report.last_tenth_scans}
    for scan in report.scans:
        if scan["seq_scans"] or scan["index_scans"]:
            tail = last.get((scan["service"], scan["table"]))
            table.add_row(f"{scan['service']}.{scan['table']}", f"{scan['rows']:,}",
                          f"{scan['seq_scans']:,}", f"{scan['seq_rows_read']:,}",
                          f"{scan['index_scans']:,}",
                          *([f"{tail['seq_scans']:,}", f"{tail['seq_rows_read']:,}",
                             f"{tail['index_scans']:,}"] if tail else ["-"] * 3))
    return table


def print_report(report: SoakReport) -> None:
    wide = Console(width=max(Console().width, 200))
    wide.print(tenths_table(report))
    if report.probes:
        wide.print(probes_table(report))
    wide.print(scans_table(report))
    for check in report.checks:
        wide.print(("[green]ok[/] " if check.passed else "[red]FAILED[/] ") + check.name
                   + ": " + check.detail)
    result = {"environment": report.environment, "settings": report.settings,
              "resident_before": report.resident_before, "tenths": report.tenths,
              "probes": report.probes, "scans": report.scans,
              "last_tenth_scans": report.last_tenth_scans, "heavy": report.heavy,
              "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail}
                         for c in report.checks],
              "passed": all(check.passed for check in report.checks)}
    sys.stdout.write("RESULT " + json.dumps(result, separators=(",", ":"), default=str) + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.gift_soak",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=900.0,
                        help="offered gift requests/s of the soak (default 900: just below "
                             "the capacity measured by bench.gift_path, so a cost that grows "
                             "with the history shows as a tenth that falls behind)")
    parser.add_argument("--heavy-viewer-gifts", type=int, default=20_000)
    parser.add_argument("--heavy-creator-gifts", type=int, default=200_000)
    parser.add_argument("--probe-rate", type=float, default=300.0)
    parser.add_argument("--probe-seconds", type=float, default=20.0)
    parser.add_argument("--viewers", type=int, default=0,
                        help="simulated viewers (default: enough coins for every request)")
    parser.add_argument("--creators", type=int, default=20)
    args = parser.parse_args(argv)
    if not 0 < args.heavy_viewer_gifts < args.requests or not (
            0 < args.heavy_creator_gifts < args.requests):
        parser.error("the heavy two need fewer gifts than the soak has requests")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
