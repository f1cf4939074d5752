"""`coinlog explain` and `coinlog statement viewer|creator`."""

from __future__ import annotations

import asyncio
from datetime import datetime

import typer
from rich.console import Console

from ops.explain import reads, render
from ops.explain.statements import (
    CREATOR_COLUMNS,
    EPOCH,
    FAR_FUTURE,
    VIEWER_COLUMNS,
    creator_csv_rows,
    parse_moment,
    viewer_csv_rows,
    write_csv,
)

console = Console()
statement_app = typer.Typer(help="Statements over a period [from, to), exportable as CSV.",
                            no_args_is_help=True)

WalletSchema = typer.Option("wallet", "--wallet-schema", help="The wallet service's schema.")
PayoutSchema = typer.Option("payout", "--payout-schema", help="The payout service's schema.")
AsJson = typer.Option(False, "--json", help="Print machine-readable JSON.")
From = typer.Option(None, "--from", help="Start (inclusive): ISO date or date-time, UTC if "
                                         "naive; default: the beginning.")
To = typer.Option(None, "--to", help="End (exclusive): ISO date or date-time; default: no end.")
CsvPath = typer.Option(None, "--output", "-o", "--csv",
                       help="Also write the statement as CSV to this file.")


def _period(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    try:
        period = (parse_moment(start) if start else EPOCH,
                  parse_moment(end) if end else FAR_FUTURE)
    except ValueError as error:
        raise typer.BadParameter(f"not an ISO date or date-time: {error}") from None
    if period[0] > period[1]:
        raise typer.BadParameter("--from must not be after --to")
    return period


def _run(coroutine):  # noqa: ANN001, ANN202 - any command's coroutine and result
    try:
        return asyncio.run(coroutine)
    except reads.NoHistory as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None


def explain(
    entity: str = typer.Argument(..., metavar="USER", help="A viewer's user_id, or a creator's "
                                                           "with --creator."),
    creator: bool = typer.Option(False, "--creator", help="Explain a creator's diamonds."),
    as_json: bool = AsJson,
    wallet_schema: str = WalletSchema,
    payout_schema: str = PayoutSchema,
) -> None:
    """List the events that made a balance, oldest first, with the rates and cash values
    behind them and a running balance checked against the service's read model."""
    if creator:
        report = _run(reads.explain_creator_from_db(entity, payout_schema=payout_schema,
                                                    wallet_schema=wallet_schema))
        empty = f"no payout events for creator {entity} in schema {payout_schema}"
    else:
        report = _run(reads.explain_viewer_from_db(entity, wallet_schema=wallet_schema))
        empty = f"no wallet events for {entity} in schema {wallet_schema}"
    if as_json:
        print(render.as_json(report))
    elif not report.lines:
        console.print(empty)
    elif creator:
        render.print_creator(console, report)
    else:
        render.print_viewer(console, report)
    if not report.lines or report.problems:
        raise typer.Exit(1)


@statement_app.command("viewer")
def statement_viewer(
    user: str = typer.Argument(..., metavar="USER"),
    start: str | None = From,
    end: str | None = To,
    csv_path: str | None = CsvPath,
    as_json: bool = AsJson,
    wallet_schema: str = WalletSchema,
) -> None:
    """A viewer's spend statement: purchases, spends by creator and gift with coins and cash
    value, clawbacks, promo coins; totals."""
    period_start, period_end = _period(start, end)
    st = _run(reads.viewer_statement_from_db(user, period_start, period_end,
                                             wallet_schema=wallet_schema))
    if csv_path:
        write_csv(csv_path, VIEWER_COLUMNS, viewer_csv_rows(st))
    if as_json:
        print(render.as_json(st))
    else:
        render.print_viewer_statement(console, st)
        if csv_path:
            console.print(f"wrote {csv_path}")


@statement_app.command("creator")
def statement_creator(
    creator: str = typer.Argument(..., metavar="CREATOR"),
    start: str | None = From,
    end: str | None = To,
    csv_path: str | None = CsvPath,
    as_json: bool = AsJson,
    payout_schema: str = PayoutSchema,
) -> None:
    """A creator's earnings statement: each gift's diamonds with its rate, clawbacks,
    payouts with gross, fee and net; totals as the payout API computes them."""
    period_start, period_end = _period(start, end)
    st = _run(reads.creator_statement_from_db(creator, period_start, period_end,
                                              payout_schema=payout_schema))
    if csv_path:
        write_csv(csv_path, CREATOR_COLUMNS, creator_csv_rows(st))
    if as_json:
        print(render.as_json(st))
    else:
        render.print_creator_statement(console, st)
        if csv_path:
            console.print(f"wrote {csv_path}")
    if st.problems:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `explain` and `statement` (viewer, creator) to the coinlog command line."""
    app.command("explain")(explain)
    app.add_typer(statement_app, name="statement")
