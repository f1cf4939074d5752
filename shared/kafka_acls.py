"""Who may do what on the broker, derived from the topic registry: pure, no I/O.

Only a topic's owner writes it; each consumer reads only its inputs (and its consumer group);
the sealer reads the outputs and its seals and writes the seals; the auditor reads every
topic and writes none. The services and the sealer may describe the deployment's topics (a
service checks at start that all of them exist). The bindings are for one topic prefix, so
test namespaces on one broker get their own. `coinlog topics ensure` creates them as the admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from shared.contract.topics import ALL_TOPICS, AUDIT_SEALS, CONSUMED_BY, Topic
from shared.sealing.registry import OUTPUT_TOPICS


class Resource(IntEnum):
    """Kafka's ACL resource types (the protocol's numbers)."""

    TOPIC = 2
    GROUP = 3
    CLUSTER = 4


class Pattern(IntEnum):
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    READ = 3
    WRITE = 4
    DESCRIBE = 8
    DESCRIBE_CONFIGS = 10


ADMIN = "admin"
SEALER = "sealer"
AUDITOR = "auditor"
SERVICES = tuple(CONSUMED_BY)
WRITERS = {AUDIT_SEALS.name: SEALER}
"""Topics written by another principal than the registry's owner: the seals' owner is the
audit function, and the sealer is the process that publishes them."""
CLUSTER_NAME = "kafka-cluster"


def writer_of(topic: Topic) -> str:
    return WRITERS.get(topic.name, topic.owner)


def principals() -> tuple[str, ...]:
    """Every principal that needs a login, in a stable order (deploy/local/lib.sh lists the
    same names)."""
    publishers = [writer_of(topic) for topic in ALL_TOPICS]
    named = [ADMIN, *SERVICES, SEALER, AUDITOR, *publishers]
    return tuple(dict.fromkeys(named))


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW binding for a principal from any host."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation

    @property
    def user(self) -> str:
        return f"User:{self.principal}"


def _topic(principal: str, prefix: str, topic: Topic, operation: Operation) -> Acl:
    return Acl(principal, Resource.TOPIC, prefix + topic.name, Pattern.LITERAL, operation)


def _every_topic(principal: str, prefix: str, operation: Operation) -> Acl:
    # An empty prefix is the whole cluster: the wildcard topic, as Kafka spells it.
    if not prefix:
        return Acl(principal, Resource.TOPIC, "*", Pattern.LITERAL, operation)
    return Acl(principal, Resource.TOPIC, prefix, Pattern.PREFIXED, operation)


def acls(prefix: str = "") -> list[Acl]:
    """Every binding of the deployment under `prefix` (the admin is a super user)."""
    found = [_topic(writer_of(topic), prefix, topic, Operation.WRITE) for topic in ALL_TOPICS]
    for service, inputs in CONSUMED_BY.items():
        found += [_topic(service, prefix, topic, Operation.READ) for topic in inputs]
        # The consumer group is the prefix plus the consumer's name (shared/runtime/consumer).
        found.append(Acl(service, Resource.GROUP, prefix + service, Pattern.PREFIXED,
                         Operation.READ))
        # group.min.session.timeout.ms, which the service fits its sessions to.
        found.append(Acl(service, Resource.CLUSTER, CLUSTER_NAME, Pattern.LITERAL,
                         Operation.DESCRIBE_CONFIGS))
    # The sealer resumes from the seals it published: it reads them back on start.
    found += [_topic(SEALER, prefix, topic, Operation.READ)
              for topic in (*OUTPUT_TOPICS, AUDIT_SEALS)]
    found.append(_every_topic(AUDITOR, prefix, Operation.READ))
    found += [_every_topic(principal, prefix, Operation.DESCRIBE)
              for principal in (*SERVICES, SEALER)]
    return sorted(set(found))

