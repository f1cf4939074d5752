"""What every topic should look like on the broker, and how an existing one differs: pure, no
I/O, so `coinlog topics ensure` and its tests share one comparison."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from shared.contract.topics import Topic

PARTITIONS = "partitions"
REPLICATION_FACTOR = "replication.factor"


@dataclass(frozen=True)
class TopicLayout:
    """One topic as the registry and the settings want it, under the deployment's prefix."""

    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]


def layouts(topics: Iterable[Topic], *, prefix: str, replication_factor: int,
            min_insync_replicas: int | None) -> dict[str, TopicLayout]:
    durability = ({"min.insync.replicas": str(min_insync_replicas)}
                  if min_insync_replicas else {})
    return {prefix + topic.name: TopicLayout(
        prefix + topic.name, topic.partitions, replication_factor,
        {"retention.ms": str(topic.retention_ms), **durability, **topic.config})
        for topic in topics}


@dataclass(frozen=True)
class Drift:
    """One setting of an existing topic that is not what the layout wants."""

    topic: str
    setting: str
    wanted: str
    actual: str | None
    """None: the broker reported no value."""

    @property
    def alterable(self) -> bool:
        """A topic's configs can be set in place; its partitions cannot be changed without
        moving keys to other partitions, nor its replicas without a reassignment."""
        return self.setting not in (PARTITIONS, REPLICATION_FACTOR)


@dataclass(frozen=True)
class Observed:
    """An existing topic as the broker describes it."""

    partitions: int
    replication_factor: int
    configs: Mapping[str, str | None]


def drift_of(layout: TopicLayout, observed: Observed) -> list[Drift]:
    found = []
    if observed.partitions != layout.partitions:
        found.append(Drift(layout.name, PARTITIONS, str(layout.partitions),
                           str(observed.partitions)))
    if observed.replication_factor != layout.replication_factor:
        found.append(Drift(layout.name, REPLICATION_FACTOR, str(layout.replication_factor),
                           str(observed.replication_factor)))
    for name, wanted in sorted(layout.configs.items()):
        actual = observed.configs.get(name)
        if actual != wanted:
            found.append(Drift(layout.name, name, wanted, actual))
    return found


@dataclass
class TopicsReport:
    """What `ensure` found and did. With `check` nothing is changed: missing topics stay
    missing and every drift stays."""

    check: bool
    created: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    """Topics whose configs were set to the layout's."""
    acls: int | None = None
    """ACL bindings ensured (shared/kafka_acls.py); None: none made, or the broker enforces
    none."""

    @property
    def remaining(self) -> list[Drift]:
        """The drift still on the broker after this run."""
        return [d for d in self.drift if not (d.alterable and d.topic in self.altered)]

    @property
    def in_order(self) -> bool:
        return not self.missing and not self.remaining

    def as_json(self) -> dict:
        return {"check": self.check, "created": self.created, "missing": self.missing,
                "altered": self.altered, "acls": self.acls, "in_order": self.in_order,
                "drift": [{**asdict(d), "fixed": d not in self.remaining} for d in self.drift]}
