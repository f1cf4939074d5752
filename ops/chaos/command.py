"""`coinlog chaos [SCENARIO ...]`: run fault scenarios and print what each one measured."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ops.chaos.run import ScenarioResult, run_scenario
from ops.chaos.scenarios import SCENARIOS
from shared.runtime import logs


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def print_result(result: ScenarioResult, console: Console) -> None:
    mark = "[green]PASS[/]" if result.passed else "[red]FAIL[/]"
    scenario = result.scenario
    console.print(f"\n{mark} [bold]{scenario.name}[/]: {scenario.description} "
                  f"({result.elapsed_s:.0f} s; {result.requests:,} gift requests, "
                  f"{result.sent:,} sent; canary path before any fault "
                  f"{_seconds(result.baseline_s)})")
    if result.failure:
        console.print(f"  [red]run failed:[/] {result.failure}")
    if result.injected:
        faults = Table("at", "fault", "down", "healed after", "recovered after", box=None)
        for fault in result.injected:
            faults.add_row(f"{fault.at_s:.1f} s", fault.what, _seconds(fault.down_s),
                           "-" if fault.healed_s is None else _seconds(fault.healed_s),
                           _seconds(fault.recovered_s))
        console.print(faults)
    verdicts = Table("check", "verdict", "detail", box=None)
    for check in result.checks:
        verdicts.add_row(f"demo: {check.name}", "pass" if check.passed else "FAIL",
                         check.detail)
    for verdict in result.verdicts:
        verdicts.add_row(verdict.name, "pass" if verdict.passed else "FAIL", verdict.detail)
    console.print(verdicts)
    console.print("  warning/error log lines: " + ", ".join(
        f"{name} {count}" for name, count in result.log_lines.items()))


def _as_json(result: ScenarioResult) -> dict:
    return {"scenario": result.scenario.name, "passed": result.passed,
            "elapsed_s": round(result.elapsed_s, 1), "failure": result.failure,
            "requests": result.requests, "sent": result.sent, "baseline_s": result.baseline_s,
            "faults": [asdict(fault) for fault in result.injected],
            "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail}
                       for c in result.checks],
            "verdicts": [asdict(verdict) for verdict in result.verdicts],
            "log_lines": result.log_lines}


def register(app: typer.Typer) -> None:
    @app.command("chaos")
    def chaos_command(
        scenarios: list[str] = typer.Argument(None, help="Scenarios to run (default: all)."),
        seconds: float = typer.Option(30.0, help="How long gifts keep coming per scenario."),
        rate: float = typer.Option(150.0, help="Gift requests per second."),
        viewers: int = typer.Option(1500, help="Simulated viewers."),
        creators: int = typer.Option(12, help="Simulated creators."),
        list_only: bool = typer.Option(False, "--list", help="List the scenarios and stop."),
        json_path: Path | None = typer.Option(None, "--output", "-o",
                                              help="Write the results as JSON to this file."),
        keep: bool = typer.Option(False, help="Keep each scenario's topics and schemas."),
    ) -> None:
        """Run fault scenarios on a local stack of their own (.local/chaos) under the demo's
        load; each ends with audit, replay --verify of every service and verify-log.
        Exit code 0 only when every scenario passes."""
        # This process's own clients (the load's producer, the probes) wait out the faults
        # too: their repeated complaints are held back like the services' are.
        logs.configure("WARNING")
        console = Console()
        if list_only:
            for scenario in SCENARIOS.values():
                console.print(f"[bold]{scenario.name}[/]: {scenario.description}")
            raise typer.Exit(0)
        unknown = sorted(set(scenarios or ()) - set(SCENARIOS))
        if unknown:
            raise typer.BadParameter(f"unknown scenarios {', '.join(unknown)}; "
                                     f"see --list")
        chosen = [SCENARIOS[name] for name in scenarios] if scenarios else list(
            SCENARIOS.values())
        results = []
        for scenario in chosen:
            console.print(f"running [bold]{scenario.name}[/] ...")
            result = asyncio.run(run_scenario(scenario, seconds=seconds, rate=rate,
                                              viewers=viewers, creators=creators, keep=keep))
            print_result(result, console)
            results.append(result)
        if json_path:
            json_path.write_text(json.dumps([_as_json(r) for r in results], indent=2))
        passed = sum(r.passed for r in results)
        console.print(f"\n{passed} of {len(results)} scenarios passed")
        raise typer.Exit(0 if passed == len(results) else 1)
