"""`coinlog verify-log`: is the log on Kafka the log that was sealed?"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from shared.contract.topics import Topic
from shared.sealing.audit import LogVerification, verify_log
from shared.sealing.registry import OUTPUT_TOPICS

EXIT_OK = 0
EXIT_TAMPERED = 1


def register(app: typer.Typer) -> None:
    """Add `verify-log` to the coinlog command line."""

    @app.command("verify-log")
    def verify_log_command(
        prefix: str | None = typer.Option(
            None, "--prefix", help="Topic prefix of the environment (default: "
                                   "COINLOG_TOPIC_PREFIX)."),
    ) -> None:
        """Recompute the hash chain of every output partition and compare it with the seals.
        Exit code 0 only when no record was altered, removed, reordered or inserted."""
        raise typer.Exit(run_verify_log(prefix))


def run_verify_log(prefix: str | None = None, *, bootstrap_servers: str | None = None,
                   topics: Sequence[Topic] = OUTPUT_TOPICS, seals: Topic | None = None,
                   console: Console | None = None) -> int:
    """The command's work: verify, print the findings, return the exit code."""
    from shared.settings import Settings

    settings = Settings()
    console = console or Console()
    prefix = settings.topic_prefix if prefix is None else prefix
    bootstrap_servers = bootstrap_servers or settings.kafka_bootstrap_servers
    with Progress(TextColumn("verifying the log"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("records", total=None)
        result = asyncio.run(verify_log(
            bootstrap_servers, topics, prefix, seals=seals,
            progress=lambda done, total: bar.update(task, completed=done, total=total)))
    print_verification(result, console)
    return EXIT_OK if result.ok else EXIT_TAMPERED


def print_verification(result: LogVerification, console: Console) -> None:
    if result.findings:
        table = Table("topic", "partition", "offset", "finding", "records", "detail",
                      title="tamper evidence")
        for finding in result.findings:
            style = "red" if finding.is_tampering else "yellow"
            table.add_row(finding.topic, str(finding.partition), str(finding.offset),
                          f"[{style}]{finding.kind}[/{style}]", str(finding.count),
                          finding.detail)
        console.print(table)
    rate = result.records / result.elapsed_s if result.elapsed_s > 0 else 0.0
    console.print(f"{result.records} records in {result.partitions} partitions checked "
                  f"against {result.seals} seals in {result.elapsed_s:.2f}s "
                  f"({rate:,.0f} records/s)")
    if result.ok:
        console.print("[green]no tampering found[/green]")
    else:
        console.print(f"[red]tampering found: {len(result.tampering)} finding(s)[/red]")
