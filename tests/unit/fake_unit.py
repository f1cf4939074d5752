"""A unit of work without a database or a broker, for the services' batch handlers.

    FakeUnit       a Unit whose connection refuses every query; emit is Unit's own (it
                   encodes and queues, no I/O), so `emitted` is what the runtime would publish
    FakeStore      base of the in-memory stand-ins for a service's store module: every call
                   the handler makes is logged in `calls`, writes are kept in dicts
    FakeSnapshots  SnapshotTable in memory (wallet's `wallets`, payout's `creators`)
    handle_batch   run a handler on one batch of events, as the runtime would hand it over

A test swaps the handler module's `store` for its fake (monkeypatch.setattr(handlers, "store",
fake)): the handler runs unchanged, and every store call it makes lands in the fake. The three
services' fakes are in fake_stores.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from shared.contract.codec import encode
from shared.contract.envelope import Event
from shared.contract.topics import Topic, topic_of
from shared.runtime.unit import BatchHandler, Inbound, Record, Unit

T = TypeVar("T")


class NoDatabase:
    """Stands in for unit.conn: a handler under test must reach the database only through its
    (faked) store, so any use of the connection itself fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the handler used the connection directly ({name})")


class FakeUnit(Unit):
    def __init__(self) -> None:
        super().__init__(conn=NoDatabase())  # type: ignore[arg-type]
        self.causes: list[Inbound | None] = []
        """The inbound each emitted event was caused by, position for position."""

    def emit(self, event: Event, *, topic: Topic | None = None,
             cause: Inbound | None = None) -> None:
        super().emit(event, topic=topic, cause=cause)
        self.causes.append(cause)

    @property
    def emitted(self) -> list[Event]:
        return [event for event, _ in self.events]


def inbound(event: Event, offset: int = 0) -> Inbound:
    """The event as the consumer hands it to a handler: a record of its own topic."""
    return Inbound(event, Record(topic_of(event).name, 0, offset, event.key.encode(),
                                 encode(event)))


async def handle_batch(handler: BatchHandler, events: Sequence[Event]) -> FakeUnit:
    """One batch, one unit: the unit holds what the batch emitted."""
    unit = FakeUnit()
    await handler(unit, [inbound(event, offset) for offset, event in enumerate(events)])
    return unit


class FakeStore:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        """(function name, arguments after the connection) of every store call, in order."""

    def called(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def arguments(self, name: str) -> list[tuple[Any, ...]]:
        """The arguments of every call to `name`, in order."""
        return [args for called, args in self.calls if called == name]


class FakeSnapshots(Generic[T]):
    """`load_many` and `save` of shared.runtime.aggregates.SnapshotTable, kept in `states`;
    `row` is what saving keeps of a state (the table's dump), the state itself by default."""

    def __init__(self, store: FakeStore, table: str,
                 row: Callable[[T], T] = lambda state: state) -> None:
        self.store = store
        self.table = table
        self.row = row
        self.states: dict[str, T] = {}

    async def load_many(self, conn: object, keys: Iterable[str]) -> dict[str, T]:
        wanted = sorted(set(keys))
        self.store.called(f"{self.table}.load_many", wanted)
        return {key: self.states[key] for key in wanted if key in self.states}

    async def save(self, conn: object, states: Mapping[str, T]) -> None:
        self.store.called(f"{self.table}.save", list(states.items()))
        self.states.update((key, self.row(state)) for key, state in states.items())
