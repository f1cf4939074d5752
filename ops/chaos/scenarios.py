"""The fault suite's scenarios: how many instances run, and what breaks while gifts flow."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ops.chaos.faults import (
    ALL_SERVICES,
    WITH_SEALER,
    CutNetwork,
    Fault,
    KillBroker,
    KillClusterBroker,
    KillInstance,
    KillPostgres,
    TerminateBackends,
)
from ops.chaos.stack import CLUSTER, FaultStack
from ops.services import SEALER


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    instances: int
    """Instances of each service sharing its partitions."""
    faults: Callable[[], Sequence[Fault]]
    stack: FaultStack = FaultStack()
    proxied: tuple[str, ...] = ()
    """What PROXIED_INSTANCE reaches through a proxy the scenario can cut: kafka, postgres."""

    @property
    def instance_counts(self) -> dict[str, int]:
        return dict.fromkeys(ALL_SERVICES, self.instances)


def _alternating_kills(count: int, down_s: float | None) -> list[Fault]:
    return [KillInstance((ALL_SERVICES[n % 3],), down_s) for n in range(count)]


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("two-instances", "two instances of every service, no fault", 2, list),
    Scenario("three-instances", "three instances of every service, no fault", 3, list),
    Scenario("two-instances-killed",
             "two instances of every service; six times kill -9 one (wallet, gifting, payout "
             "in turn), restarted a second later", 2, lambda: _alternating_kills(6, 1.0)),
    Scenario("three-instances-killed",
             "three instances of every service; six times kill -9 one, restarted a second "
             "later", 3, lambda: _alternating_kills(6, 1.0)),
    Scenario("failover",
             "two instances of every service; kill -9 one of each, never restarted: the "
             "survivors take over its partitions", 2, lambda: _alternating_kills(3, None)),
    Scenario("each-process-killed",
             "one instance of every service; kill -9 of wallet, gifting, payout and the sealer "
             "at random moments, each restarted a second later", 1,
             lambda: [KillInstance((name,), 1.0) for name in WITH_SEALER]
             + [KillInstance(WITH_SEALER, 1.0), KillInstance((SEALER,), 1.0)]),
    Scenario("broker-restart", "kill -9 of the Kafka broker, started again 3 s later, twice",
             1, lambda: [KillBroker(3.0), KillBroker(3.0)]),
    Scenario("postgres-restart",
             "kill -9 of the PostgreSQL postmaster, started again 2 s later (crash recovery), "
             "twice", 1, lambda: [KillPostgres(2.0), KillPostgres(2.0)]),
    Scenario("cluster-broker-lost",
             "a three-broker KRaft cluster (replication factor 3, min.insync.replicas 2, "
             "acks=all): kill -9 of one broker, started again 5 s later, then of another", 1,
             lambda: [KillClusterBroker(2, 5.0), KillClusterBroker(3, 5.0)], CLUSTER),
    Scenario("network-cut-kafka",
             "two instances of every service; the network between one wallet instance and the "
             "broker cut for 10 s (five consumer sessions), then healed, twice", 2,
             lambda: [CutNetwork("kafka", 10.0), CutNetwork("kafka", 10.0)],
             proxied=("kafka",)),
    Scenario("network-cut-postgres",
             "two instances of every service; the network between one wallet instance and "
             "PostgreSQL cut for 6 s, then healed, twice", 2,
             lambda: [CutNetwork("postgres", 6.0), CutNetwork("postgres", 6.0)],
             proxied=("postgres",)),
    Scenario("sessions-terminated",
             "two instances of every service; every database session of the services "
             "terminated, three times", 2, lambda: [TerminateBackends() for _ in range(3)]),
)}
