"""A consumer's subscriber: it asks Kafka again at once when a fetch comes back empty, and hands
each batch to the processor as its records, with no detour through a worker thread."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.subscriber import usecase
from faststream.specification import AsyncAPI

from shared import kafka_client
from shared.contract.topics import PURCHASES, dead_letter_topic
from shared.runtime.consumer import ConsumerRuntime
from shared.runtime.processor import BatchResult
from shared.runtime.subscriber import PromptBatchSubscriber
from shared.runtime.unit import Record


class ScriptedConsumer:
    """getmany answers in turn from a script, as aiokafka's would after each wait."""

    def __init__(self, *answers: dict[str, list[str]]):
        self.answers = list(answers)
        self.calls: list[tuple[int, int | None]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int | None) -> dict[str, list[str]]:
        self.calls.append((timeout_ms, max_records))
        return self.answers.pop(0)


async def _handle(*_: Any) -> None:
    return None


def runtime(broker: KafkaBroker | None = None) -> ConsumerRuntime:
    return ConsumerRuntime(
        broker=broker or kafka_client.broker(bootstrap_servers="127.0.0.1:1"), consumer="wallet",
        topics=[PURCHASES],
        handler=_handle, pool=None, schema="wallet",  # type: ignore[arg-type]  # never used
        dead_letter_topic=dead_letter_topic("wallet"), max_records=7, batch_timeout_ms=50)


@pytest.fixture
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    async def paused(*_: object) -> None:
        raise AssertionError("the subscriber paused after an empty fetch")

    monkeypatch.setattr(usecase.anyio, "sleep", paused)


async def test_an_empty_fetch_is_followed_by_the_next_one_without_a_pause(no_pause):
    subscriber = runtime().subscriber
    subscriber.running = True
    consumer = ScriptedConsumer({}, {}, {"p0": ["r1", "r2"], "p1": ["r3"]})

    batch = await subscriber.get_msg(consumer)  # type: ignore[arg-type]  # the scripted one

    assert batch == ("r1", "r2", "r3")
    assert consumer.calls == [(50, 7)] * 3


async def test_a_stopped_subscriber_fetches_nothing_more():
    subscriber = runtime().subscriber
    subscriber.running = False
    consumer = ScriptedConsumer()

    assert await subscriber.get_msg(consumer) == ()  # type: ignore[arg-type]  # scripted
    assert consumer.calls == []


def test_the_broker_still_knows_the_subscriber_and_documents_it():
    broker = kafka_client.broker(bootstrap_servers="127.0.0.1:1")
    consumer = runtime(broker)
    assert isinstance(consumer.subscriber, PromptBatchSubscriber)
    assert consumer.subscriber in broker.subscribers
    spec = AsyncAPI(broker, schema_version="3.0.0").to_specification().to_jsonable()
    assert any(channel["address"] == PURCHASES.name
               for channel in spec["channels"].values())


async def test_a_batch_reaches_the_processor_as_its_records_without_a_worker_thread(
        monkeypatch: pytest.MonkeyPatch):
    async def in_a_thread(*_: object, **__: object) -> None:
        raise AssertionError("a batch went through a worker thread")

    monkeypatch.setattr(anyio.to_thread, "run_sync", in_a_thread)
    broker = kafka_client.broker(bootstrap_servers="127.0.0.1:1")
    consumer = runtime(broker)
    batches: list[list[Record]] = []

    async def process(records: list[Record]) -> BatchResult:
        batches.append(records)
        return BatchResult()

    consumer.processor.process = process  # type: ignore[method-assign]  # no database here
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b'{"any": "bytes"}', PURCHASES.name, key=b"viewer-1")

    assert [(r.topic, r.key, r.value) for batch in batches for r in batch] == [
        (PURCHASES.name, b"viewer-1", b'{"any": "bytes"}')]
