"""The fault suite (`coinlog chaos`) with a bounded load: every scenario on the real broker and
database, the services and the sealer as processes, ending with the audit, a verified replay
of every service, verify-log and the demo's checks all passing, and every fault recovered.

The scenarios run on stacks of their own (ops.chaos.stack, under .local/chaos and, for the
three-broker cluster, .local/chaos-cluster), which they kill and restart; they are stopped
when the session ends.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ops.chaos.command import print_result
from ops.chaos.run import run_scenario
from ops.chaos.scenarios import SCENARIOS

pytestmark = pytest.mark.integration

LOAD = {"seconds": 20.0, "rate": 100.0, "viewers": 800, "creators": 10}


@pytest.fixture(scope="session")
def fault_stacks():
    yield
    for stack in {scenario.stack for scenario in SCENARIOS.values()}:
        stack.down(purge=True)


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_scenario_ends_with_every_check_passing(name: str, fault_stacks):
    result = await run_scenario(SCENARIOS[name], **LOAD)

    report = io.StringIO()
    print_result(result, Console(file=report, width=200))
    print(report.getvalue())
    assert result.failure is None, report.getvalue()
    assert result.requests > 0 and result.sent > 0, report.getvalue()
    assert [c.name for c in result.checks if not c.passed] == [], report.getvalue()
    assert [v.name for v in result.verdicts if not v.passed] == [], report.getvalue()
    assert len(result.verdicts) == 5, report.getvalue()
    assert len(result.injected) == len(SCENARIOS[name].faults()), report.getvalue()
    assert all(fault.recovered_s is not None for fault in result.injected), report.getvalue()
