"""The sealer's /livez and /readyz, as the services have them.

Ready once it has resumed from the published seals and follows the partitions; alive while its
task runs and, when following, it has asked Kafka for records within STALL_S (it asks at least
once a second). While it reconnects after an outage it is alive but not ready.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import FastAPI, Response

from shared.runtime.health import Check, verdict
from shared.runtime.http import CheckResult, Liveness, Readiness
from shared.sealing.sealer import Sealer

STALL_S = 30.0


def _results(checks: list[Check]) -> list[CheckResult]:
    return [CheckResult(name=check.name, ok=check.ok, detail=check.detail) for check in checks]


def liveness(sealer: Sealer, task: asyncio.Task) -> Check:
    if task.done():
        return Check("sealer", False, "its task has ended")
    if not sealer.running.is_set():
        return Check("sealer", True, "resuming from the published seals")
    quiet_s = time.monotonic() - sealer.last_poll
    return Check("sealer", quiet_s <= STALL_S, f"polled {quiet_s:.1f} s ago")


def readiness(sealer: Sealer, task: asyncio.Task) -> Check:
    if task.done():
        return Check("sealer", False, "its task has ended")
    if not sealer.running.is_set():
        return Check("sealer", False, "resuming from the published seals (or Kafka is out of "
                                      "reach)")
    return Check("sealer", True, f"following; {sealer.seals_published} seals published")


def health_app(sealer: Sealer, task: asyncio.Task) -> FastAPI:
    app = FastAPI(title="coinlog sealer", version="1")

    @app.get("/livez")
    async def get_liveness(response: Response) -> Liveness:
        checks = [liveness(sealer, task)]
        response.status_code = 200 if verdict(checks) else 503
        return Liveness(status="alive" if verdict(checks) else "stuck", checks=_results(checks))

    @app.get("/readyz")
    async def get_readiness(response: Response) -> Readiness:
        checks = [readiness(sealer, task)]
        response.status_code = 200 if verdict(checks) else 503
        return Readiness(status="ready" if verdict(checks) else "not ready",
                         checks=_results(checks))

    return app
