"""`coinlog topics ensure` as a person reads it: what was created, what drifted."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from shared.runtime.topic_layout import TopicsReport


def print_report(console: Console, report: TopicsReport) -> None:
    if report.created:
        console.print(f"created {len(report.created)} topics: {', '.join(report.created)}")
    if report.missing:
        console.print(f"[red]missing {len(report.missing)} topics[/]: "
                      f"{', '.join(report.missing)}")
    if report.drift:
        remaining = report.remaining
        table = Table("topic", "setting", "wanted", "actual", "now", title="drift")
        for drift in report.drift:
            table.add_row(drift.topic, drift.setting, drift.wanted,
                          "(none)" if drift.actual is None else drift.actual,
                          "[red]left[/]" if drift in remaining else "set")
        console.print(table)
        if any(not drift.alterable for drift in remaining):
            console.print("[red]partitions and replicas are not changed in place[/]: a new "
                          "partition count moves keys (recreate the topic in a new deployment);"
                          " replicas move with kafka-reassign-partitions")
    if report.acls is not None:
        console.print(f"ACLs: {report.acls} bindings for the principals of the registry")
    if report.in_order:
        console.print("topics in order" + ("" if report.created or report.altered
                                           else " (all existed as the registry says)"))
