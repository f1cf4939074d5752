"""The coinlog command line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from ops import stack

app = typer.Typer(help="coinlog: a ledger for a live-streaming coin economy, on Kafka and "
                       "PostgreSQL.", no_args_is_help=True, add_completion=False)
stack_app = typer.Typer(help="The local Kafka and PostgreSQL (no Docker needed).",
                        no_args_is_help=True)
topics_app = typer.Typer(help="The topics of the event log.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(topics_app, name="topics")
console = Console()


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version as installed

    try:
        return installed("coinlog")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _print_version(asked: bool) -> None:
    if asked:
        print(f"coinlog {version()}")
        raise typer.Exit()


@app.callback()
def main(
    show_version: bool = typer.Option(False, "--version", callback=_print_version,
                                      is_eager=True, help="Print the version and exit."),
) -> None:
    """coinlog: a ledger for a live-streaming coin economy, on Kafka and PostgreSQL."""


@stack_app.command("up")
def stack_up() -> None:
    """Start the local Kafka broker and PostgreSQL and print their endpoints."""
    for name, value in stack.up().items():
        print(f"export {name}={value}")


@stack_app.command("down")
def stack_down(purge: bool = typer.Option(False, help="Also delete their data.")) -> None:
    """Stop the local Kafka broker and PostgreSQL (and the local Prometheus, if it runs)."""
    stack.down(purge)


@topics_app.command("ensure")
def topics_ensure(
    check: bool = typer.Option(False, "--check", help="Change nothing: report missing topics "
                               "and drift, exit 1 if there is any."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Create every topic of the registry (under COINLOG_TOPIC_PREFIX) with its partitions,
    replicas, min.insync.replicas and configs; set the configs of existing topics that drifted
    and report the drift that cannot be set in place (partitions, replicas); on a broker with
    an authorizer, create the ACLs of every principal (shared/kafka_acls.py). Exit 1 when
    topics are missing (with --check) or drift remains."""
    from ops.topics_report import print_report
    from shared.contract.topics import ALL_TOPICS
    from shared.runtime.acl_admin import ensure_acls
    from shared.runtime.kafka_admin import reconcile_topics
    from shared.runtime.topic_layout import TopicsReport
    from shared.settings import Settings

    settings = Settings()

    async def ensure() -> TopicsReport:
        report = await reconcile_topics(settings.kafka_bootstrap_servers, ALL_TOPICS,
                                        prefix=settings.topic_prefix, check=check)
        if not check:
            report.acls = await ensure_acls(settings.kafka_bootstrap_servers,
                                            settings.topic_prefix)
        return report

    report = asyncio.run(ensure())
    if as_json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print_report(console, report)
    raise typer.Exit(0 if report.in_order else 1)


@topics_app.command("list")
def topics_list() -> None:
    """The topic registry: owners, keys, partitions, events."""
    from shared.contract.topics import ALL_TOPICS

    if not console.is_terminal:
        # Piped: one tab-separated line per topic, whole names, for scripts to cut.
        for topic in ALL_TOPICS:
            print("\t".join((topic.name, topic.owner, topic.key, str(topic.partitions),
                             ",".join(sorted(topic.event_types)))))
        return
    table = Table("topic", "owner", "key", "partitions", "events")
    for topic in ALL_TOPICS:
        table.add_row(topic.name, topic.owner, topic.key, str(topic.partitions),
                      "\n".join(sorted(topic.event_types)))
    console.print(table)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """Run the whole test suite (extra arguments go to pytest). Kafka and PostgreSQL come from
    KAFKA_BOOTSTRAP_SERVERS/DATABASE_URL, else containers when Docker answers, else the local
    stack."""
    completed = subprocess.run([sys.executable, "-m", "pytest", *ctx.args], cwd=stack.ROOT,
                               check=False, env=os.environ)
    raise typer.Exit(completed.returncode)


@app.command()
def demo(
    viewers: int = typer.Option(2000, help="Simulated viewers."),
    seconds: float = typer.Option(30.0, help="How long gifts keep coming."),
    rate: float = typer.Option(300.0, help="Gift requests per second."),
    creators: int = typer.Option(20, help="Simulated creators."),
    prometheus: bool = typer.Option(
        False, "--prometheus", help="Also start the local Prometheus (deploy/local/prometheus, "
        "left running) scraping the services and the sealer, with the alert rules."),
) -> None:
    """Start the stack and the services, drive a simulated economy, and show the books."""
    from ops.demo import run_demo

    raise typer.Exit(asyncio.run(run_demo(viewers=viewers, seconds=seconds, console=console,
                                          rate=rate, creators=creators,
                                          prometheus=prometheus)))


class TokenScope(StrEnum):
    viewer = "viewer"
    creator = "creator"
    ops = "ops"


@app.command()
def token(
    subject: str = typer.Argument(..., help="The caller: a user id, a creator id, or a name."),
    scope: list[TokenScope] = typer.Option(
        [TokenScope.viewer], "--scope", help="viewer: own wallet; creator: own diamonds and "
        "payouts; ops: anyone's. Repeat for several."),
    ttl: int = typer.Option(3600, min=1, help="Seconds until it expires."),
) -> None:
    """Print a bearer token for the local services' query routes, signed with the local dev
    key (made on first use, under COINLOG_LOCAL_DIR)."""
    from ops.tokens import local_signing_key
    from shared.runtime.auth import SCOPES

    print(local_signing_key().token(subject, [SCOPES[s.value] for s in scope], ttl_s=ttl))


def _register_commands() -> None:
    from ops.audit.command import register as register_audit
    from ops.chaos.command import register as register_chaos
    from ops.explain import register as register_explain
    from ops.replay import register as register_replay
    from ops.seeding.command import register as register_seed
    from shared.sealing.cli import register as register_verify_log

    register_explain(app)
    register_audit(app)
    register_verify_log(app)
    register_replay(app)
    register_chaos(app)
    register_seed(app)


_register_commands()

if __name__ == "__main__":
    app()
