"""Building seals from a partition's chain: pure, no I/O and no clock (time is passed in)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from shared.contract.events.seals import PartitionSealed
from shared.sealing.chain import LOCATOR_BYTES, RecordLike, genesis, step

SEAL_NAMESPACE = uuid.UUID("0b7f4c1e-3d2a-5e8f-9a61-7c3e2d9b8f40")

MAX_SEGMENT_RECORDS = 20_000
"""At most this many records per seal: 8 bytes of locator each keeps a seal far below Kafka's
default 1 MB message size."""


def seal_event_id(topic: str, partition: int, through_offset: int) -> uuid.UUID:
    """Deterministic, so a republished seal is recognised as the same one."""
    return uuid.uuid5(SEAL_NAMESPACE, f"{topic}/{partition}/{through_offset}")


@dataclass
class PartitionChain:
    """The running chain of one partition and the segment not sealed yet."""

    topic: str
    partition: int
    head: bytes
    """h_n after the last record added."""
    record_count: int = 0
    """Records chained from the partition's start (cumulative)."""
    last_offset: int = -1
    sealed_head: bytes = b""
    sealed_through: int = -1
    pending_first: int | None = None
    pending_locators: bytearray = field(default_factory=bytearray)

    @classmethod
    def start(cls, topic: str, partition: int) -> PartitionChain:
        h0 = genesis(topic, partition)
        return cls(topic, partition, head=h0, sealed_head=h0)

    @classmethod
    def resume(cls, seal: PartitionSealed) -> PartitionChain:
        """Continue after the last seal published."""
        head = bytes.fromhex(seal.chain_hash)
        return cls(seal.topic, seal.partition, head=head, record_count=seal.record_count,
                   last_offset=seal.through_offset, sealed_head=head,
                   sealed_through=seal.through_offset)

    @property
    def pending(self) -> int:
        return len(self.pending_locators) // LOCATOR_BYTES

    def add(self, offset: int, key: bytes | None, value: bytes | None) -> bool:
        """Chain one record; False (and nothing changes) if its offset was chained already."""
        if offset <= self.last_offset:
            return False
        self.head, record_locator = step(self.head, offset, key, value)
        self.record_count += 1
        self.last_offset = offset
        if self.pending_first is None:
            self.pending_first = offset
        self.pending_locators += record_locator
        return True

    def seal(self, occurred_at: datetime) -> PartitionSealed:
        """The seal of the pending segment; the chain then counts it as sealed."""
        if self.pending_first is None:
            raise ValueError(f"{self.topic}/{self.partition}: nothing to seal")
        sealed = PartitionSealed(
            event_id=seal_event_id(self.topic, self.partition, self.last_offset),
            occurred_at=occurred_at,
            key=self.topic,
            topic=self.topic,
            partition=self.partition,
            first_offset=self.pending_first,
            through_offset=self.last_offset,
            record_count=self.record_count,
            chain_hash=self.head.hex(),
            previous_chain_hash=self.sealed_head.hex(),
            record_digests=base64.b64encode(bytes(self.pending_locators)).decode(),
        )
        self.sealed_head = self.head
        self.sealed_through = self.last_offset
        self.pending_first = None
        self.pending_locators = bytearray()
        return sealed


def seal_records(topic: str, partition: int, records: Iterable[RecordLike], *, every: int,
                 occurred_at: datetime, seal_tail: bool = True) -> list[PartitionSealed]:
    """Seals of a partition, one every `every` records (and one for the rest if seal_tail)."""
    chain = PartitionChain.start(topic, partition)
    seals = []
    for record in records:
        chain.add(record.offset, record.key, record.value)
        if chain.pending >= every:
            seals.append(chain.seal(occurred_at))
    if seal_tail and chain.pending:
        seals.append(chain.seal(occurred_at))
    return seals


def seal_locators(seal: PartitionSealed) -> list[bytes]:
    """The per-record locators a seal carries, in offset order."""
    raw = base64.b64decode(seal.record_digests, validate=True)
    if len(raw) % LOCATOR_BYTES:
        raise ValueError(f"record_digests is not a whole number of {LOCATOR_BYTES}-byte digests")
    return [raw[i:i + LOCATOR_BYTES] for i in range(0, len(raw), LOCATOR_BYTES)]
