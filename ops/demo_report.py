"""The end of a demo run, for people: leaderboards and creators through the services' HTTP
APIs, the books from their schemas, the measured throughput and latency, and the checks
(ops.verdict)."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rich import box
from rich.console import Console
from rich.table import Column, Table

from ops.books import Books, GiftOutcome, PayoutLine, RefusedPurchases, WalletSummary
from ops.latency import LatencySummary
from ops.services import ServiceFleet
from ops.simulation.people import Population
from ops.verdict import Verdict

TOP = 5


@dataclass(frozen=True)
class Performance:
    gifting_s: float
    requests: int
    sent: int
    settled_s: float
    """From the first request published until every request had its final status."""
    latency: LatencySummary

    @property
    def sent_per_s(self) -> float:
        return self.sent / self.gifting_s if self.gifting_s else 0.0

    @property
    def settled_per_s(self) -> float:
        return self.requests / self.settled_s if self.settled_s else 0.0


def _table(*columns: str | Column, title: str, text_columns: int = 1) -> Table:
    """Light borders, so the tables fit an 80-column terminal; the columns after the first
    `text_columns` hold figures and are right-aligned."""
    table = Table(*columns, title=title, title_justify="left", title_style="bold",
                  box=box.SIMPLE_HEAD, padding=(0, 1))
    for column in table.columns[text_columns:]:
        column.justify = "right"
    return table


def _usd(minor: int) -> str:
    return f"${minor / 100:,.2f}"


async def busiest_stream(fleet: ServiceFleet, stream_ids: Sequence[str]) -> dict | None:
    streams = await asyncio.gather(*(fleet.get_json("gifting", f"/streams/{stream_id}")
                                     for stream_id in stream_ids))
    return max(streams, key=lambda stream: stream["coins"], default=None)


async def stream_leaders(fleet: ServiceFleet, stream: dict | None) -> Table:
    table = _table("rank", "viewer", "gifts", "coins", "points",
                   title=f"Top {TOP} gifters of the busiest stream", text_columns=2)
    if stream is None:
        return table
    table.title = (f"Top {TOP} gifters of the busiest stream, {stream['stream_id']} "
                   f"({stream['creator_id']}: {stream['gifts']:,} gifts, {stream['coins']:,} "
                   f"coins from {stream['senders']:,} viewers)")
    board = await fleet.get_json("gifting", f"/streams/{stream['stream_id']}/leaderboard"
                                            f"?limit={TOP}")
    for row in board["top"]:
        table.add_row(str(row["rank"]), row["sender_id"], f"{row['gifts']:,}",
                      f"{row['coins']:,}", f"{row['points']:,}")
    return table


async def top_creators(fleet: ServiceFleet, creator_ids: Sequence[str],
                       as_of: datetime) -> Table:
    at = urllib.parse.quote(as_of.isoformat())
    creators = await asyncio.gather(*(fleet.get_json("payout", f"/creators/{creator_id}"
                                                               f"?as_of={at}")
                                      for creator_id in creator_ids))
    creators.sort(key=lambda creator: creator["earned"], reverse=True)
    # No `held` column: the hold of every gift has ended by the cash-out.
    table = _table(Column("creator", no_wrap=True), "earned", "withdrawn", "available",
                   "clawed back", "debt",
                   title=f"Top {TOP} creators by diamonds earned (as of "
                         f"{as_of:%Y-%m-%d %H:%M} simulated)")
    for creator in creators[:TOP]:
        table.add_row(creator["creator_id"], *(f"{creator[field]:,}" for field in (
            "earned", "withdrawn", "available", "clawed_back", "debt")))
    return table


def gift_outcomes(outcomes: Sequence[GiftOutcome]) -> Table:
    table = _table("outcome", "reason", "requests", "gifts", "coins",
                   title="Gift requests of this run", text_columns=2)
    for line in outcomes:
        sent = line.status == "sent"
        table.add_row(line.status, line.reason, f"{line.requests:,}",
                      f"{line.units:,}" if sent else "", f"{line.coins:,}" if sent else "")
    return table


def wallet_summary(this_run: WalletSummary, everything: WalletSummary) -> Table:
    table = _table("coins", "this run", "all runs", title="Wallets")
    rows = [
        ("bought", "bought"), ("promo credited", "promo"), ("spent on gifts", "spent"),
        ("clawed back", "clawed_back"), ("expired (promo)", "expired"),
        ("Σ balances", "balances"), ("debt after clawbacks", "debt"), ("wallets", "wallets"),
        ("frozen wallets", "frozen"),
    ]
    for label, field in rows:
        table.add_row(label, f"{getattr(this_run, field):,}", f"{getattr(everything, field):,}")
    table.add_row("money in", _usd(this_run.paid_minor), _usd(everything.paid_minor))
    return table


def purchases_refused(this_run: Sequence[RefusedPurchases]) -> Table:
    table = _table("reason", "purchases", "coins claimed", "paid", text_columns=1,
                   title="Purchases refused off the price list (nothing credited)")
    for line in this_run:
        table.add_row(line.reason, f"{line.purchases:,}", f"{line.coins:,}",
                      _usd(line.amount_minor))
    if not this_run:
        table.add_row("none", "0", "0", "")
    return table


def payouts(this_run: Sequence[PayoutLine]) -> Table:
    table = _table("payouts", "count", "diamonds", "cash (net)", title="Payouts of this run")
    by_status = {line.status: line for line in this_run}
    for status in ("paid", "failed", "reserved", "rejected"):
        line = by_status.get(status)
        if line is None:
            table.add_row(status, "0", "0", "")
            continue
        cash = _usd(line.net_minor) if status in ("paid", "reserved") else ""
        table.add_row(status, f"{line.payouts:,}", f"{line.diamonds:,}", cash)
    return table


def throughput_and_latency(perf: Performance) -> Table:
    table = _table("measure", "value", title="Throughput and latency")
    table.add_row("gift requests published", f"{perf.requests:,} in {perf.gifting_s:.1f} s")
    table.add_row("gifts sent per second of gifting", f"{perf.sent_per_s:,.0f}")
    table.add_row("requests decided per second, up to the last outcome",
                  f"{perf.settled_per_s:,.0f} ({perf.settled_s:.1f} s)")
    latency = perf.latency
    if latency.count:
        table.add_row("gift request -> diamonds earned, median", f"{latency.median_ms:,.0f} ms")
        table.add_row("gift request -> diamonds earned, p99", f"{latency.p99_ms:,.0f} ms")
        table.add_row("gift request -> diamonds earned, max", f"{latency.max_ms:,.0f} ms")
    table.add_row("gifts measured", f"{latency.count:,}")
    return table


def invariants(results: Sequence[Verdict]) -> Table:
    table = _table(Column("invariant", ratio=1), "", Column("detail", ratio=2),
                   title="Invariants, over the whole log and the read tables", text_columns=3)
    for result in results:
        verdict = "[green]PASS[/green]" if result.passed else "[red]FAIL[/red]"
        table.add_row(result.name, verdict, result.detail)
    return table


async def print_report(console: Console, fleet: ServiceFleet, books: Books,
                       population: Population, performance: Performance,
                       results: Sequence[Verdict], *, as_of: datetime) -> None:
    stream_ids = [stream.stream_id for stream in population.streams]
    creator_ids = [creator.creator_id for creator in population.creators]
    viewer_ids = [viewer.user_id for viewer in population.viewers]
    tables = [
        await stream_leaders(fleet, await busiest_stream(fleet, stream_ids)),
        await top_creators(fleet, creator_ids, as_of),
        gift_outcomes(await books.gift_outcomes(stream_ids)),
        wallet_summary(await books.wallet_summary(viewer_ids), await books.wallet_summary(None)),
        purchases_refused(await books.purchases_refused(viewer_ids)),
        payouts(await books.payouts(creator_ids)),
        throughput_and_latency(performance),
        invariants(results),
    ]
    for table in tables:
        console.print()
        console.print(table)
    console.print()
    console.print("[bold green]all invariants hold[/]"
                  if all(result.passed for result in results)
                  else "[bold red]an invariant does not hold[/]")
