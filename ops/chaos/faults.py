"""What a scenario breaks, and how it heals: each fault breaks something, stays broken for
`down_s` (or for the rest of the run when None), then heals."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg

from ops.chaos.proxy import TcpProxy
from ops.chaos.stack import FaultStack
from ops.services import SEALER, ServiceFleet
from services.registry import NAMES


@dataclass
class FaultContext:
    fleet: ServiceFleet
    stack: FaultStack
    database_url: str
    schemas: tuple[str, ...]
    rng: random.Random
    proxies: dict[str, TcpProxy] = field(default_factory=dict)
    """By what they stand in front of: "kafka", "postgres"."""


class Fault(Protocol):
    down_s: float | None

    async def inject(self, ctx: FaultContext) -> str:
        """Break something; return what was broken."""

    async def heal(self, ctx: FaultContext, target: str) -> None: ...


@dataclass(frozen=True)
class KillInstance:
    """kill -9 of one running instance of one of `services` (the sealer counts as one)."""

    services: tuple[str, ...]
    down_s: float | None = 1.0

    async def inject(self, ctx: FaultContext) -> str:
        running = [service.instance for name in self.services
                   for service in ctx.fleet.instances(name) if not service.exited]
        target = ctx.rng.choice(running)
        await ctx.fleet.kill(target)
        return f"kill -9 {target}"

    async def heal(self, ctx: FaultContext, target: str) -> None:
        await ctx.fleet.restart(target.removeprefix("kill -9 "))


@dataclass(frozen=True)
class CutNetwork:
    """A network partition between the proxied instance and `to` (kafka or postgres)."""

    to: str
    down_s: float | None = 5.0

    async def inject(self, ctx: FaultContext) -> str:
        ctx.proxies[self.to].cut()
        return f"network cut between {PROXIED_INSTANCE} and {self.to}"

    async def heal(self, ctx: FaultContext, target: str) -> None:
        ctx.proxies[self.to].heal()


PROXIED_SERVICE = "wallet"
PROXIED_INSTANCE = f"{PROXIED_SERVICE}-1"
"""The instance whose connections a network cut scenario routes through its proxies."""


@dataclass(frozen=True)
class KillBroker:
    down_s: float | None = 3.0

    async def inject(self, ctx: FaultContext) -> str:
        await ctx.stack.kill_kafka()
        return "kill -9 the Kafka broker"

    async def heal(self, ctx: FaultContext, target: str) -> None:
        await ctx.stack.start_kafka()


@dataclass(frozen=True)
class KillClusterBroker:
    """kill -9 of one node of a three-broker cluster: its partitions' leadership moves to the
    others, acknowledged writes live on in the other replicas."""

    node: int
    down_s: float | None = 5.0

    async def inject(self, ctx: FaultContext) -> str:
        await ctx.stack.kill_kafka(self.node)
        return f"kill -9 Kafka node {self.node} of 3"

    async def heal(self, ctx: FaultContext, target: str) -> None:
        await ctx.stack.start_kafka()


@dataclass(frozen=True)
class KillPostgres:
    down_s: float | None = 2.0

    async def inject(self, ctx: FaultContext) -> str:
        await ctx.stack.kill_postgres()
        return "kill -9 the PostgreSQL postmaster"

    async def heal(self, ctx: FaultContext, target: str) -> None:
        await ctx.stack.start_postgres()


@dataclass(frozen=True)
class TerminateBackends:
    """pg_terminate_backend of every session of the scenario's services, mid-transaction or
    not: what a database failover or an operator's kill does to connections."""

    down_s: float | None = 0.0

    async def inject(self, ctx: FaultContext) -> str:
        conn = await asyncpg.connect(ctx.database_url)
        try:
            killed = await conn.fetchval(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE split_part(application_name, '/', 2) = ANY($1::text[])",
                list(ctx.schemas))
        finally:
            await conn.close()
        return f"{killed} database sessions terminated"

    async def heal(self, ctx: FaultContext, target: str) -> None:
        return None


ALL_SERVICES = NAMES
WITH_SEALER = (*ALL_SERVICES, SEALER)
