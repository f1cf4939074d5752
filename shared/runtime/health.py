"""What /readyz and /livez ask of a running service, check by check.

Ready means the service can decide correctly now: the database answers, Kafka answers, every
consumer holds its partitions and stands at (or past) the offsets recorded in PostgreSQL, and
the service knows its policy. Alive means nothing is stuck: every consumer loop is running and,
while it has work waiting, has polled Kafka or finished a batch attempt recently. Liveness asks
neither the database nor the broker: an outage is a reason not to be ready, not to be restarted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from aiokafka.client import AIOKafkaClient

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 2.0
"""How long a readiness probe waits for the database or the broker before saying no."""


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class PolicyProbe:
    """How a service tells whether the policy it decides with has reached it."""

    known: Callable[[asyncpg.Connection], Awaitable[bool]]
    """True once the service's tables hold the policy (or catalog) it needs."""
    meanwhile: str
    """What the service decides on until then, for the warning it logs (rate versions)."""
    missing: str = "no policy published yet: run `coinlog seed FILE` (or the demo)"


async def database_check(pool: asyncpg.Pool | None) -> Check:
    if pool is None:
        return Check("database", False, "no connection pool yet")
    try:
        answered = await asyncio.wait_for(pool.fetchval("SELECT true"), PROBE_TIMEOUT_S)
    except Exception as error:  # noqa: BLE001 - whatever fails, the database is not ready
        return Check("database", False, f"PostgreSQL does not answer: {error!r}")
    return Check("database", bool(answered), "PostgreSQL answered")


async def kafka_check(client: AIOKafkaClient | None) -> Check:
    if client is None:
        return Check("kafka", False, "no Kafka client yet")
    try:
        metadata = await asyncio.wait_for(client.fetch_all_metadata(), PROBE_TIMEOUT_S)
    except Exception as error:  # noqa: BLE001 - whatever fails, the broker is not ready
        return Check("kafka", False, f"no metadata from Kafka within {PROBE_TIMEOUT_S:g} s: "
                                     f"{error!r}")
    return Check("kafka", True, f"metadata from {len(metadata.brokers())} broker(s)")


async def policy_check(pool: asyncpg.Pool | None, probe: PolicyProbe | None) -> Check:
    if probe is None:
        return Check("policy", True, "decides without a published policy")
    if pool is None:
        return Check("policy", False, "no connection pool yet")
    try:
        async with pool.acquire(timeout=PROBE_TIMEOUT_S) as conn:
            known = await asyncio.wait_for(probe.known(conn), PROBE_TIMEOUT_S)
    except Exception as error:  # noqa: BLE001 - the database check says why
        return Check("policy", False, f"cannot read the policy: {error!r}")
    if known:
        return Check("policy", True, "policy known")
    return Check("policy", False, f"{probe.missing}; until then it decides on {probe.meanwhile}")


async def warn_if_no_policy(name: str, pool: asyncpg.Pool, probe: PolicyProbe | None) -> None:
    """Once at start: a service deciding on built-in defaults says so."""
    if probe is None:
        return
    async with pool.acquire() as conn:
        if await probe.known(conn):
            return
    log.warning("%s: %s; it decides on %s until one arrives", name, probe.missing,
                probe.meanwhile)


def verdict(checks: list[Check]) -> bool:
    return all(check.ok for check in checks)
