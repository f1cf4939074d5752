"""Seeding a deployment: read what the policy and catalog topics hold, judge the seed against
it, and publish only what is new, only when nothing conflicts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ops.seeding.compare import Judged, Status, judge
from ops.seeding.file import SeedEvent, SeedFileInvalid, ahead_of, read_seed
from shared import kafka_client
from shared.contract.codec import encode
from shared.contract.envelope import Event
from shared.contract.topics import CATALOG_CHANGES, POLICY_CHANGES, topic_of
from shared.logread import LogReader
from shared.runtime.kafka_admin import ensure_topics

SEEDED_TOPICS = (POLICY_CHANGES, CATALOG_CHANGES)


@dataclass(frozen=True)
class SeedRun:
    source: str
    judged: list[Judged]
    published: int
    """Events handed to Kafka and acknowledged by this run."""
    dry_run: bool
    compared: bool
    """Whether the topics were read (not with --offline)."""

    @property
    def conflicts(self) -> list[Judged]:
        return [item for item in self.judged if item.status is Status.conflict]

    def as_json(self) -> dict[str, Any]:
        counts = {status.value: sum(item.status is status for item in self.judged)
                  for status in Status} if self.compared else {"valid": len(self.judged)}
        return {"file": self.source, "dry_run": self.dry_run, "compared_with_log": self.compared,
                "published": self.published, "counts": counts,
                "events": [_item_json(item, self.compared) for item in self.judged]}


def _item_json(item: Judged, compared: bool) -> dict[str, Any]:
    event = item.seeded.event
    status = item.status.value if compared else "valid"
    return {"status": status, "topic": topic_of(event).name, "type": event.type,
            "identity": item.seeded.identity, "event_id": str(event.event_id),
            "where": item.seeded.where, "detail": item.detail,
            "event": event.model_dump(mode="json")}


def load_seed_file(path: Path, now: datetime | None = None) -> list[SeedEvent]:
    """The file's events, or SeedFileInvalid (also for events the topics would refuse as
    dated in the future)."""
    source = str(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise SeedFileInvalid(source, [f"cannot be read: {error.strerror}"]) from None
    events = read_seed(text, source)
    problems = ahead_of(events, now or datetime.now(UTC))
    if problems:
        raise SeedFileInvalid(source, problems)
    return events


async def events_on_topics(bootstrap_servers: str, prefix: str) -> list[Event]:
    """Every event on the policy and catalog topics now; records that do not decode are left
    out (the consumers dead-lettered them)."""
    existing = await _existing_topics(bootstrap_servers)
    topics = [topic for topic in SEEDED_TOPICS if prefix + topic.name in existing]
    if not topics:
        return []  # a fresh deployment (and LogReader wants some partition to read)
    reader = LogReader(bootstrap_servers, topics, prefix=prefix)
    cut = await reader.cut()
    found: list[Event] = []
    async for batch in reader.read(cut):
        found.extend(record.decoded.event for record in batch if record.decoded is not None)
    return found


async def _existing_topics(bootstrap_servers: str) -> set[str]:
    admin = kafka_client.admin(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def seed(path: Path, bootstrap_servers: str, *, prefix: str = "", dry_run: bool = False,
               offline: bool = False) -> SeedRun:
    """Judge the file's events against the log and publish the new ones (unless dry_run or a
    conflict). offline: judge nothing, publish nothing, only validate."""
    events = load_seed_file(path)
    if offline:
        return SeedRun(str(path), [Judged(seeded, Status.new) for seeded in events], 0,
                       dry_run=True, compared=False)
    judged = judge(events, await events_on_topics(bootstrap_servers, prefix))
    run = SeedRun(str(path), judged, 0, dry_run=dry_run, compared=True)
    if dry_run or run.conflicts:
        return run
    fresh = [item.seeded.event for item in judged if item.status is Status.new]
    if fresh:
        await ensure_topics(bootstrap_servers, SEEDED_TOPICS, prefix=prefix)
        await publish(bootstrap_servers, prefix, fresh)
    return SeedRun(str(path), judged, len(fresh), dry_run=False, compared=True)


async def publish(bootstrap_servers: str, prefix: str, events: list[Event]) -> None:
    """Publish in order and wait for every acknowledgement (acks=all, idempotent producer)."""
    producer = kafka_client.producer(bootstrap_servers=bootstrap_servers,
                                     enable_idempotence=True, acks="all")
    await producer.start()
    try:
        deliveries = [await producer.send(prefix + topic_of(event).name, encode(event),
                                          key=event.key.encode()) for event in events]
        for delivery in deliveries:
            await delivery
    finally:
        await producer.stop()
