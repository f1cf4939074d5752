"""Renderings of an AuditReport: the terminal (rich), JSON, and one self-contained HTML page
(inline CSS and an inline SVG chart of liabilities along the log; no external assets)."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ops.audit.model import AuditReport

MONEY_TERMS = ("received", "refunded", "charged_back", "paid_out", "fees", "payouts_in_flight",
               "coins_liability", "refused_unreturned", "diamonds_liability", "revenue")


def print_report(report: AuditReport, console: Console | None = None,
                 elapsed_s: float | None = None) -> None:
    console = console or Console()
    figures = report.figures
    table = Table(title="coinlog audit", show_lines=False)
    for column in ("invariant", "result", "checked", "failed"):
        table.add_column(column, justify="right" if column in ("checked", "failed") else "left")
    for invariant in report.invariants:
        table.add_row(invariant.name,
                      "[green]PASS[/green]" if invariant.passed else "[bold red]FAIL[/bold red]",
                      f"{invariant.checked:,}", f"{invariant.failed:,}")
    console.print(table)
    for invariant in report.invariants:
        for violation in invariant.examples:
            console.print(f"[red]{invariant.name}[/red] {violation.location or '(totals)'}: "
                          f"{violation.message}", highlight=False)
        if invariant.failed > len(invariant.examples):
            console.print(f"[red]{invariant.name}[/red] ... and "
                          f"{invariant.failed - len(invariant.examples):,} more")
    coins, diamonds = figures["coins"], figures["diamonds"]
    rate = f", {figures['events'] / elapsed_s:,.0f} events/s" if elapsed_s else ""
    console.print(f"events {figures['events']:,} (records {figures['records']:,}, "
                  f"republished {figures['republished_duplicates']:,}){rate}; cut time "
                  f"{report.cut_time}")
    console.print(f"coins: {coins['wallets']:,} wallets, credited {coins['credited']:,}, spent "
                  f"{coins['spent']:,}, clawed back {coins['clawed_back']:,}, expired "
                  f"{coins['expired']:,}, balances {coins['balance']:,} (debt "
                  f"{coins['debt']:,})")
    console.print(f"diamonds: {diamonds['creators']:,} creators, earned "
                  f"{diamonds['earned']:,}, withdrawn {diamonds['withdrawn']:,}, reserved "
                  f"{diamonds['reserved']:,}, clawed back {diamonds['clawed_back']:,}, held "
                  f"{diamonds['held']:,}, available {diamonds['available']:,}, debt "
                  f"{diamonds['debt']:,}")
    if report.money:
        money = Table(title="money (minor units)")
        money.add_column("term")
        for currency in report.money:
            money.add_column(currency, justify="right")
        for term in MONEY_TERMS:
            money.add_row(term, *(f"{report.money[c][term]:,}" for c in report.money))
        console.print(money)
    console.print("[bold green]AUDIT PASSED[/bold green]" if report.passed else
                  f"[bold red]AUDIT FAILED[/bold red]: {', '.join(report.failed_names())}")


def report_json(report: AuditReport) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str) + "\n"


def write_json(report: AuditReport, path: str | Path) -> None:
    Path(path).write_text(report_json(report))


def _chart(series: list[dict[str, int]], width: int = 880, height: int = 260) -> str:
    if len(series) < 2:
        return "<p>Not enough points along the log for a chart.</p>"
    left, right, top, bottom = 70, 20, 20, 40
    t0, t1 = series[0]["ts_ms"], series[-1]["ts_ms"]
    span_t = max(1, t1 - t0)
    high = max(1, *(max(p["coins"], p["diamonds"]) for p in series))
    low = min(0, *(min(p["coins"], p["diamonds"]) for p in series))

    def xy(point: dict[str, int], key: str) -> str:
        x = left + (point["ts_ms"] - t0) / span_t * (width - left - right)
        y = top + (high - point[key]) / (high - low) * (height - top - bottom)
        return f"{x:.1f},{y:.1f}"

    lines = []
    for key, color in (("coins", "#1f77b4"), ("diamonds", "#d62728")):
        lines.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                     + " ".join(xy(p, key) for p in series) + '"/>')
    zero_y = top + high / (high - low) * (height - top - bottom)

    def stamp(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")

    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="liabilities along the log">'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>'
        f'<line x1="{left}" y1="{zero_y:.1f}" x2="{width - right}" y2="{zero_y:.1f}" '
        f'stroke="#999"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#999"/>'
        f'<text x="{left - 5}" y="{top + 5}" text-anchor="end" font-size="11">{high:,}</text>'
        f'<text x="{left - 5}" y="{zero_y + 4:.1f}" text-anchor="end" font-size="11">0</text>'
        f'<text x="{left}" y="{height - 15}" font-size="11">{stamp(t0)}</text>'
        f'<text x="{width - right}" y="{height - 15}" text-anchor="end" font-size="11">'
        f'{stamp(t1)}</text>'
        + "".join(lines)
        + f'<text x="{left + 10}" y="{height - 2}" font-size="12" fill="#1f77b4">'
          f'coins outstanding</text>'
          f'<text x="{left + 160}" y="{height - 2}" font-size="12" fill="#d62728">'
          f'diamonds owed</text></svg>')


def write_html(report: AuditReport, path: str | Path) -> None:
    esc = html.escape
    rows = "".join(
        f'<tr class="{"pass" if inv.passed else "fail"}"><td>{esc(inv.name)}</td>'
        f'<td>{"PASS" if inv.passed else "FAIL"}</td><td>{inv.checked:,}</td>'
        f'<td>{inv.failed:,}</td><td>{esc(inv.description)}</td></tr>'
        for inv in report.invariants)
    violations = "".join(
        f"<li><b>{esc(inv.name)}</b> <code>{esc(str(v.location or '(totals)'))}</code>: "
        f"{esc(v.message)}</li>"
        for inv in report.invariants for v in inv.examples)
    money = ""
    if report.money:
        currencies = list(report.money)
        money = ("<table><tr><th>term</th>" + "".join(f"<th>{esc(c)}</th>" for c in currencies)
                 + "</tr>" + "".join(
                     f"<tr><td>{term}</td>" + "".join(
                         f'<td class="num">{report.money[c][term]:,}</td>' for c in currencies)
                     + "</tr>" for term in MONEY_TERMS) + "</table>")
    figures = esc(json.dumps({k: report.figures[k] for k in
                              ("records", "events", "coins", "diamonds", "records_by_topic",
                               "dead_letters", "republished_duplicates")},
                             indent=2, default=str))
    verdict = "PASSED" if report.passed else "FAILED: " + ", ".join(report.failed_names())
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>coinlog audit</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.pass td:nth-child(2) {{ color: #080; font-weight: bold; }}
tr.fail td:nth-child(2) {{ color: #c00; font-weight: bold; }}
.verdict {{ font-size: 1.4em; font-weight: bold; color: {"#080" if report.passed else "#c00"}; }}
pre {{ background: #f6f6f6; padding: 1em; overflow: auto; }}
</style></head><body>
<h1>coinlog audit</h1>
<p class="verdict">{esc(verdict)}</p>
<p>Cut time {esc(str(report.cut_time))}; {report.figures['events']:,} events.</p>
<h2>Invariants</h2>
<table><tr><th>invariant</th><th>result</th><th>checked</th><th>failed</th><th>what</th></tr>
{rows}</table>
{"<h2>Violations</h2><ul>" + violations + "</ul>" if violations else ""}
<h2>Money (minor units)</h2>{money}
<h2>Liabilities along the log</h2>{_chart(report.series)}
<h2>Key figures</h2><pre>{figures}</pre>
</body></html>
"""
    Path(path).write_text(page)
