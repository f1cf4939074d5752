"""Typer commands: `replay`, `pit-snapshot`, `balance`, `creator-balance`."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum

import typer

from ops.progress import progress
from services.registry import NAMES
from shared.settings import Settings


def _prefix(prefix: str | None) -> str:
    return Settings().topic_prefix if prefix is None else prefix


async def next_rebuild_schema(service: str, database_url: str) -> str:
    import asyncpg

    from ops.replay.swap import next_schema_name
    conn = await asyncpg.connect(database_url)
    try:
        return await next_schema_name(conn, f"{service}_rebuild")
    finally:
        await conn.close()


async def _swap(service: str, live: str, prefix: str, require_equal: bool) -> int:
    from ops.replay.swap import SwapRefused, describe_refusal, swap
    try:
        result = await swap(service, live, prefix, require_equal=require_equal)
    except SwapRefused as refusal:
        typer.echo("\n".join(describe_refusal(refusal)), err=True)
        return 1
    typer.echo(result.summary())
    if result.verification is not None:
        typer.echo("\n".join(result.verification.lines()))
    return 0


ServiceName = StrEnum("ServiceName", {name: name for name in NAMES})  # type: ignore[misc]
"""The services of the registry, as the choices of an argument."""


def replay_command(
    service: ServiceName = typer.Argument(..., help="The service whose read tables to "
                                          "rebuild.", show_default=False),
    verify: bool = typer.Option(False, "--verify", help="Compare with the live schema."),
    swap: bool = typer.Option(False, "--swap", help="Switch the live schema over to the "
                              "rebuild atomically (the service may keep running; with "
                              "--verify only when both are equal)."),
    schema: str | None = typer.Option(None, help="Live schema (default: the service's)."),
    target: str | None = typer.Option(None, help="Rebuild schema (default: "
                                      "<service>_rebuild_<n>)."),
    prefix: str | None = typer.Option(None, help="Topic prefix (default "
                                      "COINLOG_TOPIC_PREFIX)."),
    wait: float = typer.Option(60.0, help="With --verify: seconds to wait for the live "
                               "service to catch up before the cut."),
) -> None:
    """Rebuild a service's read tables from the log into a fresh schema (and verify)."""
    service = service.value
    settings = Settings()
    live = schema or settings.schema_for(service)
    topic_prefix = _prefix(prefix)
    if swap:
        if target:
            raise typer.BadParameter("--swap names its rebuild schema itself",
                                     param_hint="--target")
        raise typer.Exit(asyncio.run(_swap(service, live, topic_prefix, verify)))
    raise typer.Exit(asyncio.run(_rebuild(service, live, target, topic_prefix, verify, wait)))


async def _rebuild(service: str, live: str, target: str | None, prefix: str, verify: bool,
                   wait_s: float) -> int:
    from ops.replay.folding import take_cut
    from ops.replay.rebuild import rebuild, verify as verify_schemas, wait_caught_up
    name = target or await next_rebuild_schema(service, Settings().database_url)
    with progress(f"{service}: waiting for the live service") as ticker:
        if verify:
            await wait_caught_up(service, live, prefix, timeout_s=wait_s)
        ticker.describe(f"{service}: taking the cut of the log")
        cut = await take_cut(service, prefix)
        ticker.expect(cut.total)
        ticker.describe(f"{service}: folding the log into {name}")
        result = await rebuild(service, name, prefix, cut)
        ticker.advance(cut.total)
        if verify:
            ticker.describe(f"{service}: comparing {name} with {live}")
            outcome = await verify_schemas(service, live, name)
    typer.echo(result.summary())
    for entity, problem in list(result.stats.broken.items())[:10]:
        typer.echo(f"  not folding: {entity}: {problem}")
    if not verify:
        return 0
    typer.echo("\n".join(outcome.lines()))
    return 0 if outcome.equal else 1


def verify_command(service: str, live_schema: str, rebuilt_schema: str) -> None:
    """Compare a service's read tables in two schemas; exit 0 only when equal."""
    from ops.replay.rebuild import verify as verify_schemas
    outcome = asyncio.run(verify_schemas(service, live_schema, rebuilt_schema))
    typer.echo("\n".join(outcome.lines()))
    raise typer.Exit(0 if outcome.equal else 1)


def snapshot_command(
    kind: str = typer.Argument(..., help="wallet or creator"),
    every: int = typer.Option(10_000, help="Offsets between snapshots."),
    prefix: str | None = typer.Option(None),
) -> None:
    """Extend the point-in-time snapshots (audit.pit_*) up to the log's end now."""
    from ops.replay.pit import snapshot
    with progress(f"pit-snapshot {kind}: reading the log") as ticker:
        run = asyncio.run(snapshot(kind, _prefix(prefix), every=every, ticker=ticker))
    typer.echo(f"{run.topic}: {run.records} records read; marks written "
               f"{ {p: m for p, m in run.marks.items() if m} }")


def _answer(kind: str, entity: str, as_of_text: str, prefix: str | None) -> None:
    from ops.replay.pit import as_of
    try:
        answer = asyncio.run(as_of(kind, entity, as_of_text, _prefix(prefix)))
    except (ValueError, LookupError) as problem:
        typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(answer.body(), default=str, indent=2))


AsOf = typer.Option(..., "--as-of", help="TIMESTAMP, OFFSET or PARTITION:OFFSET")


def balance_command(user: str, as_of: str = AsOf,
                    prefix: str | None = typer.Option(None)) -> None:
    """A wallet as it was: snapshot + replay of its wallet.ledger partition."""
    _answer("wallet", user, as_of, prefix)


def creator_balance_command(creator: str, as_of: str = AsOf,
                            prefix: str | None = typer.Option(None)) -> None:
    """A creator's diamonds as they were: snapshot + replay of its payout.ledger partition."""
    _answer("creator", creator, as_of, prefix)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)
    app.command("replay-verify")(verify_command)
    app.command("pit-snapshot")(snapshot_command)
    app.command("balance")(balance_command)
    app.command("creator-balance")(creator_balance_command)
