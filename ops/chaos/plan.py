"""The faults of a scenario while the demo's gifts flow: each at a random moment, healed after
its down time, with canary gifts timing how long the economy took to recover."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from ops.chaos.canary import Canaries
from ops.chaos.faults import Fault, FaultContext
from ops.chaos.proxy import TcpProxy
from ops.chaos.stack import FaultStack
from ops.demo import Demo
from ops.namespace import SERVICE_NAMES, Namespace


@dataclass
class Injected:
    what: str
    at_s: float
    """Since the gifts started."""
    down_s: float | None
    healed_s: float | None
    """From the fault until what was broken works again (a restarted broker answers)."""
    recovered_s: float | None
    """From the fault until the last canary's diamonds were earned; None: they never were."""


class PlanResult:
    """What the plan measured: filled in while it runs."""

    def __init__(self) -> None:
        self.injected: list[Injected] = []
        self.baseline_s: float | None = None
        """A canary flight before any fault: what recovery times compare with."""


class FaultPlan:
    """The demo's disturbance: canaries set up, a first flight, then each fault at a random
    moment of the gifting window, healed after its down time, with a canary flight timed from
    the fault."""

    def __init__(self, faults: list[Fault], stack: FaultStack, database_url: str,
                 namespace: Namespace, seconds: float, result: PlanResult,
                 proxies: dict[str, TcpProxy]):
        self.proxies = proxies
        self.faults = faults
        self.stack = stack
        self.database_url = database_url
        self.namespace = namespace
        self.seconds = seconds
        self.result = result

    async def __call__(self, demo: Demo) -> None:
        started = time.monotonic()
        rng = random.Random(demo.run_id)
        canaries = Canaries(demo)
        await canaries.set_up()
        flown = time.monotonic()
        landed = await canaries.fly()
        self.result.baseline_s = landed - flown if landed else None
        context = FaultContext(demo.fleet, self.stack, self.database_url,
                               tuple(self.namespace.schema(s) for s in SERVICE_NAMES), rng,
                               self.proxies)
        left_s = max(0.0, self.seconds - (time.monotonic() - started))
        spacing_s = left_s / (len(self.faults) + 1)
        for fault in self.faults:
            await asyncio.sleep(rng.uniform(0.5, 1.0) * spacing_s)
            broken_at = time.monotonic()
            target = await fault.inject(context)
            flight = asyncio.create_task(canaries.fly())
            healed_at = None
            if fault.down_s is not None:
                await asyncio.sleep(fault.down_s)  # how long the fault lasts, not a wait for it
                await fault.heal(context, target)
                healed_at = time.monotonic()
            landed = await flight
            self.result.injected.append(Injected(
                target, broken_at - started, fault.down_s,
                healed_at - broken_at if healed_at else None,
                landed - broken_at if landed else None))
