"""`coinlog seed FILE`: publish a deployment's policy and gift catalog from a seed file.

Exit codes: 0 seeded (or would be, with --dry-run); 1 a conflict with the log, nothing
published; 2 the file is invalid, nothing published.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ops.seeding.compare import Status
from ops.seeding.file import SeedFileInvalid
from ops.seeding.run import SeedRun, seed
from shared.contract.codec import encode

STATUS_WORDS = {
    Status.new: "to publish",
    Status.present: "on the log already",
    Status.conflict: "CONFLICT",
}


def print_run(run: SeedRun, console: Console) -> None:
    table = Table("status", "type", "identity", "event_id")
    for item in run.judged:
        event = item.seeded.event
        status = STATUS_WORDS[item.status] if run.compared else "valid"
        if item.status is Status.new and run.published:
            status = "published"
        table.add_row(status, event.type, item.seeded.identity, str(event.event_id))
    console.print(table)
    if run.dry_run:
        for item in run.judged:
            if item.status is Status.new:
                console.print(encode(item.seeded.event).decode(), markup=False, highlight=False,
                              soft_wrap=True)
    for item in run.conflicts:
        console.print(f"conflict, {item.seeded.where}: {item.seeded.identity}: {item.detail}",
                      markup=False, highlight=False)
    console.print(_summary(run))


def _summary(run: SeedRun) -> str:
    if not run.compared:
        return f"{run.source}: {len(run.judged)} events, all valid (the log was not read)"
    counts = run.as_json()["counts"]
    tally = (f"{counts['new']} new, {counts['present']} on the log already, "
             f"{counts['conflict']} in conflict")
    if run.conflicts:
        return f"{run.source}: {tally}; nothing published"
    if run.dry_run:
        return f"{run.source}: {tally}; dry run, nothing published"
    return f"{run.source}: {tally}; published {run.published}"


def run_seed_command(path: Path, *, dry_run: bool, offline: bool, as_json: bool,
                     output: Path | None, prefix: str | None) -> int:
    from shared.settings import Settings

    settings = Settings()
    console = Console(stderr=as_json)
    try:
        run = asyncio.run(seed(path, settings.kafka_bootstrap_servers,
                               prefix=settings.topic_prefix if prefix is None else prefix,
                               dry_run=dry_run, offline=offline))
    except SeedFileInvalid as invalid:
        console.print(f"[red]{invalid.source}: not seeded, the file is invalid[/]")
        for problem in invalid.problems:
            console.print(f"  {problem}", markup=False, highlight=False)
        if as_json:
            print(json.dumps({"file": invalid.source, "invalid": invalid.problems}, indent=2))
        return 2
    print_run(run, console)
    report = json.dumps(run.as_json(), indent=2)
    if output:
        output.write_text(report + "\n")
    if as_json:
        sys.stdout.write(report + "\n")
    return 1 if run.conflicts else 0


def register(app: typer.Typer) -> None:
    """Add the `seed` command to the coinlog CLI."""

    @app.command("seed")
    def seed_command(
        path: Path = typer.Argument(..., metavar="FILE",
                                    help="A seed file (TOML), e.g. deploy/seed/default.toml."),
        dry_run: bool = typer.Option(False, "--dry-run",
                                     help="Compare with the log and print what would be "
                                          "published; publish nothing."),
        offline: bool = typer.Option(False, "--offline",
                                     help="Only validate the file (no broker needed); implies "
                                          "--dry-run."),
        as_json: bool = typer.Option(False, "--json",
                                     help="Print the result as JSON (on stdout; the rest goes "
                                          "to stderr)."),
        output: Path | None = typer.Option(None, "--output", "-o",
                                           help="Write the result as JSON to this file."),
        prefix: str | None = typer.Option(
            None, help="Topic prefix of the environment (default: COINLOG_TOPIC_PREFIX)."),
    ) -> None:
        """Publish a deployment's policy and gift catalog from a seed file: every entry is
        validated first, what the log holds already is left out, and a figure changed under a
        version already published is a conflict (nothing is published then)."""
        raise typer.Exit(run_seed_command(path, dry_run=dry_run, offline=offline,
                                          as_json=as_json, output=output, prefix=prefix))
