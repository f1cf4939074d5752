"""What every service's projection is: a pure fold of its own output events (and the fact
topics it keeps tables of) into the rows of its read tables. No I/O: records in, rows out.

Each service writes its projection beside its store (`services/<service>/projection.py`), from
the same row functions the store writes with; ops/replay drives any of them the same way.

Never re-decides: a service's state is the fold of what it decided, with the domain's own
evolve. Records are applied per partition in offset order (LogReader's guarantee); every
table's rows depend only on the order of one entity's events, which all live on one partition.

As the live consumers do (their inbox), a repeated event_id is applied once; undecodable records
are skipped and counted (live consumers dead-letter them, they never change state).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from shared.contract.topics import Topic
from shared.logread import LogRecord
from shared.readmodel import ReadTable, Rows, TableChange
from shared.runtime.history import EVENT_HISTORY


@dataclass
class FoldStats:
    records: int = 0
    applied: int = 0
    duplicates: int = 0
    undecodable: int = 0
    broken: dict[str, str] = field(default_factory=dict)
    """Entities whose events do not fold (the domain raised): entity -> first problem. Their
    later events are skipped and their rows left out, so verify shows them."""


@dataclass(frozen=True)
class EntityKind:
    """How one entity of a service (a wallet, a creator) is folded alone from its ledger, for
    answers about it at a point of the log: accumulate (`start`, `step`), freeze / thaw
    states, dump / load them as snapshots, and `describe` one as its figures."""

    name: str
    topic: Topic
    start: Callable[[str], Any]
    step: Callable[[Any, Any], Any]
    freeze: Callable[[Any], Any]
    thaw: Callable[[Any], Any]
    dump: Callable[[Any], bytes]
    load: Callable[[str], Any]
    describe: Callable[[Any, datetime | None], dict]


class Projection:
    service: ClassVar[str]
    topics: ClassVar[tuple[Topic, ...]]
    tables: ClassVar[tuple[ReadTable, ...]]
    """Every read table, event_history included: what a rebuild writes and verify compares."""

    ledgers: ClassVar[tuple[Topic, ...]] = ()
    """For a rebuild in several processes: partition numbers of these (co-partitioned) topics
    are shared out, every other topic is read by every process. Empty: one process only."""
    shared_tables: ClassVar[tuple[str, ...]] = ()
    """Tables made only from the topics every process reads: written once."""
    summed_tables: ClassVar[dict[str, int]] = {}
    """Tables whose rows add up across shares: table -> how many leading columns are its key
    (the rest are added)."""

    def __init__(self) -> None:
        self.stats = FoldStats()
        self._seen: set[int] = set()
        """Event ids applied, as integers (hashing a UUID object runs Python code)."""
        self._history: list[tuple] = []
        """(timestamp_ms, topic, partition, offset, *event_history row): sorts in log order."""

    def apply_batch(self, records: Iterable[LogRecord]) -> None:
        for record in records:
            self.apply(record)

    def apply(self, record: LogRecord) -> None:
        stats = self.stats
        stats.records += 1
        decoded = record.decoded
        if decoded is None:
            stats.undecodable += 1
            return
        event = decoded.event
        seen = self._seen
        before = len(seen)
        seen.add(event.event_id.int)
        if len(seen) == before:
            stats.duplicates += 1
            return
        stats.applied += 1
        self._apply(record, event)

    def _apply(self, record: LogRecord, event: Any) -> None:
        raise NotImplementedError

    def track_changes(self) -> None:
        """From now on remember what each event changes, for changes(). The history folded so
        far is taken to be written already (take_history)."""
        raise NotImplementedError

    def changes(self) -> dict[str, TableChange] | None:
        """What turns the rows() of track_changes() time into the rows() of now, touching only
        the rows of entities that events changed since; None when a change may reach every
        row (the caller compares all rows instead)."""
        raise NotImplementedError

    def rows(self) -> dict[str, Rows]:
        raise NotImplementedError

    def _record_history(self, record: LogRecord, event: Any) -> None:
        # Only the row is kept, not the record or the decoded event: a long log's history
        # would otherwise hold every event model in memory until rows().
        self._history.append((record.timestamp_ms, record.topic, record.partition,
                              record.offset, event.key, event.event_id, event.type,
                              event.occurred_at, published_json(record, event)))

    @property
    def history_backlog(self) -> int:
        return len(self._history)

    def take_history(self) -> list[tuple]:
        """The event_history rows folded so far, in fold order (log order per entity), for a
        caller that writes them while the fold goes on; rows() leaves them out. Rows of an
        entity that breaks later are among them: the caller removes those (stats.broken)."""
        taken = [entry[4:] for entry in self._history]
        self._history = []
        return taken

    def _history_rows(self) -> Rows:
        """In log order per entity; across entities roughly in decision (append-time) order."""
        broken = self.stats.broken
        # (topic, partition, offset) is unique, so the sort never compares the rows themselves.
        return EVENT_HISTORY.of([entry[4:] for entry in sorted(self._history)
                                 if entry[4] not in broken])

    def _break(self, entity: str, problem: object) -> None:
        self.stats.broken.setdefault(entity, str(problem)[:300])


def published_json(record: LogRecord, event: Any) -> str:
    """The event's JSON as the service published it, which is what its event_history holds:
    the record's own bytes, unless decoding upcast them to the current schema version, in
    which case the event as decoded."""
    raw = record.value
    if raw is not None and record.decoded is not None and not record.decoded.upcast:
        return raw.decode()
    return event.model_dump_json()
