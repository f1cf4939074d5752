"""FastStream's Kafka batch subscriber, without the pause it takes when Kafka has nothing new.

FastStream 0.7's BatchSubscriber.get_msg sleeps batch_timeout_ms after every getmany that came
back empty. aiokafka's getmany already waits up to that long and returns as soon as records are
fetched, so the sleep only adds latency: a record that reaches an idle consumer during it waits
up to a whole batch timeout before its batch starts. Here an empty getmany is simply asked
again. Every answer of getmany, empty or not, is noted in `last_poll` (monotonic seconds): the
liveness check tells a loop that polls from one that is stuck. A subscriber stops as before:
FastStream marks it stopped, waits for the batch in hand and cancels the consuming task; a
getmany in progress is cancelled with it (or ends within one batch timeout), and the loop asks
for nothing more once the subscriber is stopped.
"""

from __future__ import annotations

import time
from itertools import chain
from typing import TYPE_CHECKING

from faststream.kafka.subscriber.usecase import BatchSubscriber

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, ConsumerRecord


class PromptBatchSubscriber(BatchSubscriber):
    __slots__ = ()
    last_poll: float = 0.0
    """When getmany last answered (time.monotonic()); kept in the instance's __dict__."""

    async def get_msg(self, consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord, ...]:
        while self.running:
            fetched = await consumer.getmany(timeout_ms=self.batch_timeout_ms,
                                             max_records=self.max_records)
            self.last_poll = time.monotonic()
            if fetched:
                return tuple(chain.from_iterable(fetched.values()))
        return ()


def without_idle_pause(subscriber: BatchSubscriber) -> PromptBatchSubscriber:
    """The subscriber the broker made and registered (its AsyncAPI entry, its calls), changed
    into a PromptBatchSubscriber: FastStream builds its subscribers itself and takes no class
    to build them from. The subclass adds no slots (its one attribute lives in the __dict__
FastStream's endpoints have), so the object stays whole."""
    subscriber.__class__ = PromptBatchSubscriber
    assert isinstance(subscriber, PromptBatchSubscriber)
    return subscriber
