"""The outbox rows a relay has handed to its producer and not yet deleted, oldest first.

The relay reads the next rows while Kafka is still acknowledging the ones before (its read leaves
out every row still here, by id), and deletes acknowledged rows in the statement of that next
read. This keeps the order of the sends and their deadlines: a send that fails, or that Kafka
has not acknowledged in time, ends the relay's session, and the next leader starts from the
table again.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError


@dataclass(frozen=True, slots=True)
class _Send:
    ids: list[int]
    stored: asyncio.Future[list[Any]]
    """Done when Kafka has acknowledged every row of the send, or one of them failed."""
    deadline: float


class Deliveries:
    def __init__(self, on_settled: Callable[[], None]):
        self._sends: deque[_Send] = deque()
        self._on_settled = on_settled
        self.unacknowledged = 0
        """Rows handed to the producer whose acknowledgement has not been taken yet."""

    def add(self, ids: list[int], deliveries: Sequence[asyncio.Future[Any]],
            deadline: float) -> None:
        stored = asyncio.gather(*deliveries)
        stored.add_done_callback(self._settled)
        self._sends.append(_Send(ids, stored, deadline))
        self.unacknowledged += len(ids)

    def _settled(self, stored: asyncio.Future[list[Any]]) -> None:
        if not stored.cancelled():
            stored.exception()  # retrieved here: a session that ended may never look again
        self._on_settled()

    @property
    def empty(self) -> bool:
        return not self._sends

    def in_flight(self) -> list[int]:
        return [row_id for send in self._sends for row_id in send.ids]

    def take_acknowledged(self, now: float) -> list[int]:
        """The ids of the oldest sends Kafka has acknowledged (their rows may be deleted now).

        Raises a failed send's error, and TimeoutError when the oldest send is overdue."""
        for send in self._sends:
            failure = _failure(send.stored)
            if failure is not None:
                raise failure
        acknowledged: list[int] = []
        while self._sends and self._sends[0].stored.done():
            acknowledged.extend(self._sends.popleft().ids)
        self.unacknowledged -= len(acknowledged)
        if self._sends and self._sends[0].deadline <= now:
            raise TimeoutError(f"{len(self._sends[0].ids)} outbox rows not acknowledged in time")
        return acknowledged

    def seconds_to_deadline(self, now: float) -> float | None:
        """How long the oldest send still has to be acknowledged, if any is waiting."""
        return max(0.0, self._sends[0].deadline - now) if self._sends else None


def _failure(stored: asyncio.Future[list[Any]]) -> BaseException | None:
    if not stored.done():
        return None
    if stored.cancelled():
        return KafkaError("the producer cancelled a send")
    return stored.exception()
