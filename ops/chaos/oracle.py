"""The verdicts after a scenario, from the tools an auditor runs: `coinlog audit`,
`coinlog replay SERVICE --verify` for each service, `coinlog verify-log`."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
from pathlib import Path

from ops.namespace import SERVICE_NAMES, Namespace
from ops.stack import ROOT
from ops.verdict import Verdict


async def _coinlog(env: dict[str, str], *arguments: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        # Wide lines: the figures quoted in a verdict are not broken across lines.
        sys.executable, "-m", "ops.cli", *arguments, cwd=ROOT, env={**env, "COLUMNS": "200"},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace")


def _last_lines(text: str, count: int = 6) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-count:])


async def audit(env: dict[str, str], namespace: Namespace) -> Verdict:
    with tempfile.TemporaryDirectory() as scratch:
        report_path = Path(scratch) / "audit.json"
        code, output = await _coinlog(env, "audit", "--prefix", namespace.topic_prefix,
                                      "--output", str(report_path))
        detail = _last_lines(output, 3)
        if report_path.exists():
            detail = _audit_summary(json.loads(report_path.read_text())) or detail
    return Verdict("coinlog audit", code == 0, detail)


def _audit_summary(report: dict) -> str:
    invariants = report.get("invariants", [])
    failed = [i["name"] for i in invariants if not i["passed"]]
    checks = ", ".join(f"{i['name']} {i.get('checked', 0):,}" for i in invariants)
    return (f"{len(invariants) - len(failed)} of {len(invariants)} invariants hold (checks: "
            f"{checks})" + (f"; failed: {', '.join(failed)}" if failed else ""))


async def replay_verify(env: dict[str, str], namespace: Namespace, service: str) -> Verdict:
    live = namespace.schema(service)
    code, output = await _coinlog(env, "replay", service, "--verify", "--schema", live,
                                  "--target", f"{live}_rebuild", "--prefix",
                                  namespace.topic_prefix)
    return Verdict(f"coinlog replay {service} --verify", code == 0,
                   _table_summary(output) if code == 0 else _last_lines(output, 12))


_TABLE_LINE = re.compile(r"^(\w+): live (\d+) rows, rebuilt (\d+) rows, 0 missing, 0 extra, "
                         r"0 differing values$")


def _table_summary(output: str) -> str:
    tables = [match.groups() for line in output.splitlines()
              if (match := _TABLE_LINE.match(line.strip()))]
    return "rebuilt = live: " + ", ".join(f"{name} {int(live):,}" for name, live, _ in tables)


async def verify_log(env: dict[str, str], namespace: Namespace) -> Verdict:
    code, output = await _coinlog(env, "verify-log", "--prefix", namespace.topic_prefix)
    return Verdict("coinlog verify-log", code == 0, _last_lines(output, 2))


async def judge(env: dict[str, str], namespace: Namespace) -> list[Verdict]:
    verdicts = [await audit(env, namespace)]
    for service in SERVICE_NAMES:
        verdicts.append(await replay_verify(env, namespace, service))
    verdicts.append(await verify_log(env, namespace))
    return verdicts
