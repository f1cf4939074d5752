"""`coinlog audit`: read every topic from the start up to a cut, fold it through the Auditor,
print the report, exit 0 only when every invariant holds.

--until takes an ISO 8601 timestamp (`2026-05-01T12:00:00+00:00`; naive means UTC): the cut is
each partition's first offset at or after it (LogReader.cut(until=...)), and held vs available
diamonds are judged at that time. Without it the cut is the end of every partition now, and
the time is the latest occurred_at in the log. --prefix audits an environment whose topics are
prefixed (COINLOG_TOPIC_PREFIX, e.g. `e2e-<id>.`); it defaults to that setting.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ops.audit.fold import Auditor
from ops.audit.model import AuditReport
from ops.audit.report import print_report, report_json, write_html, write_json
from shared.contract.topics import ALL_TOPICS
from shared.gcpause import collector_paused
from shared.logread import LogReader


@dataclass
class AuditRun:
    report: AuditReport
    events: int
    elapsed_s: float
    auditor: Auditor
    """The fold the report came from, with every wallet's and creator's replayed state."""

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s else 0.0


def parse_until(until: str | None) -> datetime | None:
    if not until:
        return None
    moment = datetime.fromisoformat(until)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def run_audit(bootstrap_servers: str, *, prefix: str = "", until: datetime | None = None,
                    grace_s: float = 0.0, progress: bool = False,
                    console: Console | None = None) -> AuditRun:
    reader = LogReader(bootstrap_servers, ALL_TOPICS, prefix=prefix)
    cut = await reader.cut(until=until)
    auditor = Auditor(until=until, grace_s=grace_s)
    started = time.perf_counter()
    with collector_paused(), Progress(TextColumn("auditing"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]} events/s"), TimeElapsedColumn(),
                  console=console, disable=not progress, transient=True) as bar:
        task = bar.add_task("audit", total=cut.total, rate="-")
        async for batch in reader.read(cut):
            for record in batch:
                auditor.feed(record)
            elapsed = time.perf_counter() - started
            bar.update(task, advance=len(batch),
                       rate=f"{auditor.records / elapsed:,.0f}" if elapsed else "-")
    auditor.note_missing(len(cut.ends), reader.missing)
    with collector_paused():
        report = auditor.report()
    return AuditRun(report, auditor.records, time.perf_counter() - started, auditor)


def audit(until: str | None = None, json_path: Path | None = None,
          html_path: Path | None = None, prefix: str | None = None,
          bootstrap_servers: str | None = None, grace_s: float = 0.0,
          console: Console | None = None, as_json: bool = False) -> int:
    """Run the audit, print and write the report; return the exit code (0 = every invariant
    holds, 1 = some failed). `as_json`: the report as JSON on stdout, the rest on stderr."""
    from shared.settings import Settings

    settings = Settings()
    console = console or Console(stderr=as_json)
    run = asyncio.run(run_audit(
        bootstrap_servers or settings.kafka_bootstrap_servers,
        prefix=settings.topic_prefix if prefix is None else prefix,
        until=parse_until(until), grace_s=grace_s, progress=console.is_terminal,
        console=console))
    print_report(run.report, console, run.elapsed_s)
    console.print(f"{run.events:,} records in {run.elapsed_s:.1f} s "
                  f"({run.events_per_s:,.0f} records/s)")
    if json_path:
        write_json(run.report, json_path)
    if as_json:
        sys.stdout.write(report_json(run.report))
    if html_path:
        write_html(run.report, html_path)
    return 0 if run.report.passed else 1


def register(app: typer.Typer) -> None:
    """Add the `audit` command to the coinlog CLI."""

    @app.command("audit")
    def audit_command(
        until: str | None = typer.Option(
            None, help="Audit the log as of this ISO 8601 time (naive = UTC); default: now."),
        as_json: bool = typer.Option(False, "--json",
                                     help="Print the report as JSON (on stdout; the rest goes "
                                          "to stderr)."),
        json_path: Path | None = typer.Option(None, "--output", "-o",
                                              help="Write the report as JSON to this file."),
        html_path: Path | None = typer.Option(None, "--html",
                                              help="Write a self-contained HTML report."),
        prefix: str | None = typer.Option(
            None, help="Topic prefix of the environment (default: COINLOG_TOPIC_PREFIX)."),
        grace_s: float = typer.Option(
            0.0, help="Inputs this close to the end of the log may still be undecided."),
    ) -> None:
        """Check every invariant over the whole log; exit code 0 only when all hold."""
        raise typer.Exit(audit(until, json_path, html_path, prefix, grace_s=grace_s,
                               as_json=as_json))
