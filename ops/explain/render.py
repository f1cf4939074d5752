"""Rich tables and JSON for explanations and statements."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from ops.explain.creator import CreatorExplanation, CreatorLine
from ops.explain.statements import CreatorStatement
from ops.explain.viewer import ViewerExplanation, ViewerLine, ViewerStatement

_ZERO_DECIMALS = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
                            "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"})
_THREE_DECIMALS = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def money(minor: int | None, currency: str | None) -> str:
    """Minor units as a person reads them: `money(24999, "USD") == "USD 249.99"`."""
    if minor is None:
        return ""
    if not currency:
        return str(minor)
    digits = 0 if currency in _ZERO_DECIMALS else 3 if currency in _THREE_DECIMALS else 2
    if digits == 0:
        return f"{currency} {minor}"
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10 ** digits)
    return f"{currency} {sign}{whole}.{fraction:0{digits}d}"


def moneys(values: dict[str, int]) -> str:
    return ", ".join(money(value, currency) for currency, value in sorted(values.items())) \
        or "0"


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _signed(value: int) -> str:
    return f"{value:+d}" if value else ""


# ---- JSON -------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def as_json(report: Any) -> str:
    """Machine-readable: every field of the dataclasses, plus problems and reconciliation."""
    body = _plain(report)
    if hasattr(report, "problems"):
        body["problems"] = report.problems
    if isinstance(report, ViewerStatement):
        body["net_coins"] = report.net_coins
        body["reconciles"] = report.reconciles
    return json.dumps(body, indent=2, default=str)


# ---- viewer -----------------------------------------------------------------------------------

def _lots(lots) -> str:  # noqa: ANN001 - a viewer line's lots
    return "; ".join(f"{lot.lot_id} ({lot.kind}) {lot.coins} coins = "
                     f"{money(lot.value_minor, lot.currency) if lot.currency else 'free'}"
                     for lot in lots)


def viewer_detail(line: ViewerLine) -> str:
    match line.type:
        case "coins_purchased":
            text = (f"bought {line.coins} coins for {money(line.amount_minor, line.currency)}"
                    f" (rate {line.rate_version})")
        case "coins_spent":
            text = (f"gift {line.gift_id} to {line.creator_id} (stream {line.stream_id}),"
                    f" worth {moneys(line.value_minor)}\n  lots: {_lots(line.lots)}")
            if line.rate_version:
                text += f"\n  spending policy {line.rate_version}"
        case "purchase_refused":
            text = (f"{line.coins} coins for {money(line.amount_minor, line.currency)}"
                    f" (rate {line.rate_version}) not credited")
        case "coins_clawed_back":
            text = f"{money(line.amount_minor, line.currency)} taken back; " + line.note
            if line.lots:
                text += f"\n  covered by: {_lots(line.lots)}"
            if line.funded_gifts:
                text += "\n  had funded: " + "; ".join(
                    f"{gift['request_id']} to {gift['creator_id']} ({gift['coins']} coins)"
                    for gift in line.funded_gifts)
            return text
        case _:
            return line.note
    return text + (f"\n  {line.note}" if line.note else "")


def print_viewer(console: Console, explanation: ViewerExplanation) -> None:
    table = Table(title=f"wallet of {explanation.user_id}: the events behind its balance",
                  show_lines=True)
    for name, justify in (("seq", "right"), ("when (UTC)", "left"), ("event", "left"),
                          ("reference", "left"), ("coins", "right"), ("balance", "right"),
                          ("what", "left")):
        table.add_column(name, justify=justify,  # type: ignore[arg-type]  # one of rich's literals
                         no_wrap=name not in ("what", "event", "reference"))
    for line in explanation.lines:
        balance = str(line.balance) if line.consistent else \
            f"[red]{line.balance} (event says {line.recorded_balance})[/red]"
        table.add_row(str(line.seq), _when(line.occurred_at), line.type, line.reference or "",
                      _signed(line.delta), balance, viewer_detail(line))
    console.print(table)
    stored = "no row" if explanation.stored_balance is None else explanation.stored_balance
    console.print(f"balance from events: [bold]{explanation.balance}[/bold] coins;"
                  f" wallet_balances.balance: [bold]{stored}[/bold]")
    _problems(console, explanation.problems)


def print_viewer_statement(console: Console, st: ViewerStatement) -> None:
    period = f"[{_when(st.period_start)}, {_when(st.period_end)})"
    table = Table(title=f"statement of {st.user_id}, {period}")
    for name in ("when (UTC)", "event", "reference", "coins", "cash", "rate", "balance",
                 "creator / gift"):
        table.add_column(name)
    for line in st.lines:
        cash = moneys(line.value_minor) if line.type == "coins_spent" else \
            money(line.amount_minor, line.currency)
        who = f"{line.creator_id} / {line.gift_id}" if line.creator_id else line.note
        table.add_row(_when(line.occurred_at), line.type, line.reference or "",
                      _signed(line.delta), cash, line.rate_version or "", str(line.balance), who)
    console.print(table)
    gifts = Table(title="spent by creator and gift")
    for name in ("creator", "gift", "gifts", "coins", "cash value"):
        gifts.add_column(name)
    for total in st.by_gift:
        gifts.add_row(total.creator_id, total.gift_id, str(total.gifts), str(total.coins),
                      moneys(total.value_minor))
    if st.by_gift:
        console.print(gifts)
    totals = Table(title="totals", show_header=False)
    for label, value in (
            ("opening balance", st.opening_balance),
            ("purchased", f"+{st.purchased_coins} coins for {moneys(st.paid_minor)}"),
            ("promo granted", f"+{st.promo_coins} coins"),
            ("promo expired", f"-{st.promo_expired_coins} coins"),
            ("spent", f"-{st.spent_coins} coins worth {moneys(st.spent_value_minor)}"),
            ("clawed back", f"-{st.clawed_back_coins} coins "
                            f"({moneys(st.clawed_back_minor)} returned)"),
            ("closing balance", st.closing_balance)):
        totals.add_row(label, str(value))
    console.print(totals)
    if not st.reconciles:
        console.print(f"[yellow]opening {st.opening_balance} + net {st.net_coins} != closing "
                      f"{st.closing_balance}: an event stamped outside its log position[/]")


# ---- creator ----------------------------------------------------------------------------------

def creator_detail(line: CreatorLine) -> str:
    match line.type:
        case "diamonds_earned":
            text = (f"gift {line.reference} from {line.sender_id}: {line.coins} coins x "
                    f"{line.rate} (share {line.rate_version}) = {line.diamonds} diamonds,"
                    f" available {_when(line.available_at)}")
            if line.hold_rate_version:
                text += f" (hold {line.hold_rate_version})"
            if line.funding:
                text += f"\n  the coins were bought for {moneys(line.funding)}"
            return text + (f"\n  {line.note}" if line.note else "")
        case "payout_reserved":
            text = (f"{line.diamonds} diamonds x {line.rate} minor ({line.rate_version}) ="
                    f" gross {money(line.gross_minor, line.currency)}, fee "
                    f"{money(line.fee_minor, line.currency)}, net "
                    f"{money(line.net_minor, line.currency)} via {line.method}")
            return text + (f"\n  fee terms {line.fee_terms}" if line.fee_terms else "")
        case "payout_posted":
            return (f"{line.diamonds} diamonds paid: net {money(line.net_minor, line.currency)}"
                    f" (gross {money(line.gross_minor, line.currency)}, fee "
                    f"{money(line.fee_minor, line.currency)}, rate {line.rate_version})"
                    f"\n  {line.note}")
    return line.note


def print_creator(console: Console, explanation: CreatorExplanation) -> None:
    table = Table(title=f"diamonds of {explanation.creator_id}: the events behind them",
                  show_lines=True)
    for name in ("seq", "when (UTC)", "event", "reference", "diamonds", "held", "available",
                 "reserved", "debt", "what"):
        table.add_column(name, justify="left" if name in ("when (UTC)", "event", "reference",
                                                          "what") else "right",
                         no_wrap=name not in ("what", "event", "reference"))
    for line in explanation.lines:
        run = line.running
        table.add_row(str(line.seq), _when(line.occurred_at), line.type, line.reference or "",
                      _signed(line.delta), str(run.held), str(run.available), str(run.reserved),
                      str(run.debt), creator_detail(line))
    console.print(table)
    final = explanation.final
    console.print(f"as of {_when(final.as_of)}: held {final.held}, available {final.available},"
                  f" reserved {final.reserved}, debt {final.debt}, balance {final.balance}")
    if explanation.stored_row is not None:
        row = explanation.stored_row
        console.print(f"creator_balances (as of {_when(row['as_of'])}): held {row['held']},"
                      f" available {row['available']}, reserved {row['reserved']},"
                      f" debt {row['debt']}")
    _problems(console, explanation.problems)


def print_creator_statement(console: Console, st: CreatorStatement) -> None:
    period = f"[{_when(st.period_start)}, {_when(st.period_end)})"
    table = Table(title=f"earnings statement of {st.creator_id}, {period}", show_lines=True)
    for name in ("when (UTC)", "event", "reference", "diamonds", "balance", "what"):
        table.add_column(name)
    for line in st.lines:
        table.add_row(_when(line.occurred_at), line.type, line.reference or "",
                      _signed(line.delta) or (f"({line.diamonds})" if line.diamonds else ""),
                      str(line.running.balance), creator_detail(line))
    console.print(table)
    t = st.totals
    totals = Table(title="totals (services.payout.domain.statement)", show_header=False)
    rows = [("opening balance", f"{t.opening_balance_diamonds} diamonds"),
            ("earned", f"+{t.earned_diamonds} ({t.debt_repaid_diamonds} paid debt at once)"),
            ("clawed back", f"-{t.clawed_back_diamonds} ({t.clawed_into_debt_diamonds} "
                            "into debt)"),
            ("paid out", f"-{t.paid_diamonds} diamonds")]
    rows += [(f"paid {cash.currency}", f"{cash.payouts} payouts: gross "
              f"{money(cash.gross_minor, cash.currency)}, fees "
              f"{money(cash.fee_minor, cash.currency)}, net "
              f"{money(cash.net_minor, cash.currency)}") for cash in t.paid]
    rows += [("closing balance", f"{t.closing_balance_diamonds} diamonds"),
             ("at end", f"held {t.held_diamonds_at_end}, available "
                        f"{t.available_diamonds_at_end}, reserved "
                        f"{t.reserved_diamonds_at_end}, debt {t.debt_diamonds_at_end}")]
    for label, value in rows:
        totals.add_row(label, value)
    console.print(totals)
    _problems(console, st.problems)


def _problems(console: Console, problems: list[str]) -> None:
    for problem in problems:
        console.print(f"[bold red]{problem}[/bold red]")
