"""Tamper evidence on the real broker: seal an output topic, then verify untouched and
tampered copies of it (a copy is the only way to "edit" an append-only Kafka log)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable

import orjson
import pytest
from typer.testing import CliRunner

from shared import kafka_client
from shared.contract.events.seals import SEALS_TOPIC_NAME, PartitionSealed
from shared.contract.topics import WALLET_LEDGER, Topic, dead_letter_topic
from shared.logread import LogReader
from shared.runtime.kafka_admin import ensure_topics
from shared.sealing.audit import verify_log
from shared.sealing.chain import Record
from shared.sealing.cli import register, run_verify_log
from shared.sealing.sealer import Sealer, read_seals
from shared.sealing.verify import FindingKind
from tests.infrastructure import Endpoints

pytestmark = pytest.mark.integration

SEALS = Topic(SEALS_TOPIC_NAME, "auditor", "topic", 1, (PartitionSealed,))
DEAD_LETTERS = dead_letter_topic("gifting")
TOPICS = (WALLET_LEDGER, DEAD_LETTERS)


@pytest.fixture
async def prefixes(infra: Endpoints) -> AsyncIterator[list[str]]:
    """Prefixes the test creates topics under; their topics are deleted afterwards."""
    used: list[str] = []
    yield used
    admin = kafka_client.admin(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        names = [name for name in await admin.list_topics()
                 if any(name.startswith(prefix) for prefix in used)]
        if names:
            with contextlib.suppress(Exception):
                await admin.delete_topics(names)
    finally:
        await admin.close()


async def publish(bootstrap: str, prefix: str, count: int, start: int = 0) -> None:
    producer = kafka_client.producer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        deliveries = []
        for n in range(start, start + count):
            user = f"user-{n % 13}"
            deliveries.append(await producer.send(
                prefix + WALLET_LEDGER.name, key=user.encode(),
                value=orjson.dumps({"n": n, "user_id": user, "coins": n * 3})))
            if n % 10 == 0:
                deliveries.append(await producer.send(
                    prefix + DEAD_LETTERS.name, key=b"gifting",
                    value=orjson.dumps({"n": n, "reason": "malformed"})))
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


async def read_partitions(bootstrap: str, prefix: str,
                          topics=TOPICS) -> dict[tuple[str, int], list[Record]]:
    reader = LogReader(bootstrap, topics, prefix=prefix)
    found: dict[tuple[str, int], list[Record]] = defaultdict(list)
    async for batch in reader.read(await reader.cut(), decode_events=False):
        for record in batch:
            found[(record.topic, record.partition)].append(
                Record(record.offset, record.key, record.value))
    return dict(found)


async def copy_log(bootstrap: str, source: str, target: str,
                   edit: Callable[[str, int, list[Record]], list[Record]]) -> None:
    """Copy the topics and the seals from one prefix to another, partition by partition, in
    order, into fresh topics with the same partition counts; `edit` may change a partition's
    records on the way."""
    await ensure_topics(bootstrap, [*TOPICS, SEALS], prefix=target)
    partitions = await read_partitions(bootstrap, source, (*TOPICS, SEALS))
    producer = kafka_client.producer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for (topic, partition), records in sorted(partitions.items()):
            if topic != SEALS.name:
                records = edit(topic, partition, records)
            deliveries = [await producer.send(target + topic, key=record.key,
                                              value=record.value, partition=partition)
                          for record in records]
            await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


async def seal_everything(bootstrap: str, prefix: str, **options) -> Sealer:
    """Run a sealer until it has sealed every partition through its current end."""
    sealer = Sealer(bootstrap, TOPICS, prefix=prefix, seals=SEALS, **options)
    task = asyncio.create_task(sealer.run())
    try:
        ends = (await LogReader(bootstrap, TOPICS, prefix=prefix).cut()).ends
        await sealer.wait_sealed(ends, timeout_s=60)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return sealer


async def test_sealed_log_verifies_and_every_kind_of_tampering_is_pinpointed(
        infra: Endpoints, suffix: str, prefixes: list[str], monkeypatch):
    bootstrap = infra.kafka_bootstrap_servers
    prefix = f"it-seal-{suffix}."
    prefixes.append(prefix)
    await ensure_topics(bootstrap, [*TOPICS, SEALS], prefix=prefix)
    await publish(bootstrap, prefix, 400)

    # Seal (every 40 records, or 0.2 s after the first unsealed one), stop, publish more, and
    # start a new sealer: it resumes after the last seal instead of sealing from scratch.
    first = await seal_everything(bootstrap, prefix, seal_every_records=40, seal_every_s=0.2)
    assert first.records_chained == 440
    await publish(bootstrap, prefix, 150, start=400)
    second = await seal_everything(bootstrap, prefix, seal_every_records=40, seal_every_s=0.2)
    assert second.records_chained == 165

    seals = await read_seals(bootstrap, SEALS, prefix=prefix)
    assert len({seal.event_id for seal in seals}) == len(seals)
    result = await verify_log(bootstrap, TOPICS, prefix, seals=SEALS)
    assert result.findings == [] and result.ok
    assert result.records == 605 and result.seals == len(seals)

    # The command line agrees (exit code 0), through the typer command as wired in ops/cli.py.
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    app = __import__("typer").Typer()
    app.command("noop")(lambda: None)
    register(app)
    invoked = await asyncio.to_thread(CliRunner().invoke, app, ["verify-log", "--prefix", prefix])
    assert invoked.exit_code == 0, invoked.output
    assert "no tampering found" in invoked.output

    # Pick a partition and an offset well inside its sealed records.
    partitions = await read_partitions(bootstrap, prefix)
    (topic, partition), records = max(
        ((where, records) for where, records in partitions.items()
         if where[0] == WALLET_LEDGER.name), key=lambda item: len(item[1]))
    at = len(records) // 2
    assert at >= 20

    def renumber(kept: list[Record]) -> list[Record]:
        return [Record(offset, r.key, r.value) for offset, r in enumerate(kept)]

    def altered(rs: list[Record]) -> list[Record]:
        value = orjson.loads(rs[at].value)
        return [*rs[:at], Record(at, rs[at].key, orjson.dumps({**value, "coins": 10**9})),
                *rs[at + 1:]]

    def removed(rs: list[Record]) -> list[Record]:
        return renumber(rs[:at] + rs[at + 1:])

    def swapped(rs: list[Record]) -> list[Record]:
        return renumber([*rs[:at], rs[at + 1], rs[at], *rs[at + 2:]])

    def inserted(rs: list[Record]) -> list[Record]:
        forged = Record(-1, rs[at].key, orjson.dumps({"n": -1, "coins": 10**9}))
        return renumber([*rs[:at], forged, *rs[at:]])

    cases = {"altered": (altered, FindingKind.altered),
             "removed": (removed, FindingKind.removed),
             "swapped": (swapped, FindingKind.reordered),
             "inserted": (inserted, FindingKind.inserted)}
    for name, (edit, kind) in cases.items():
        target = f"{prefix}{name}."
        prefixes.append(target)
        await copy_log(bootstrap, prefix, target,
                       lambda t, p, rs, edit=edit: edit(rs) if (t, p) == (topic, partition)
                       else rs)
        result = await verify_log(bootstrap, TOPICS, target, seals=SEALS)
        assert [(f.topic, f.partition, f.offset, f.kind) for f in result.findings] == [
            (topic, partition, at, kind)], (name, result.findings)
        assert not result.ok
        assert await asyncio.to_thread(run_verify_log, target, bootstrap_servers=bootstrap,
                                       topics=TOPICS, seals=SEALS) == 1, name

    # An untouched copy verifies: offsets, keys and values are all that is sealed.
    target = f"{prefix}copy."
    prefixes.append(target)
    await copy_log(bootstrap, prefix, target, lambda t, p, rs: rs)
    assert (await verify_log(bootstrap, TOPICS, target, seals=SEALS)).findings == []
