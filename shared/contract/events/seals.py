"""Published by the sealer: hash-chain seals of the output partitions (tamper evidence).

Each output partition (topic, partition) carries a hash chain over its records in offset order
(`shared/sealing/chain.py`). The sealer follows the partitions off the hot path and, every N
records or T seconds, publishes the chain's value through an offset. The audit recomputes the
chain from the log and compares: a record altered, removed, reordered or inserted after it was
sealed changes every chain value from that record on.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, Strict, StrictInt, StringConstraints

from shared.contract.envelope import Event
from shared.contract.types import Identifier

SEALS_TOPIC_NAME = "audit.seals"
"""The topic of the seals (1 partition, owner "auditor"); registered in topics.py."""

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A SHA-256 digest, lowercase hex."""

Offset = Annotated[int, Strict(), Field(ge=0)]


class PartitionSealed(Event):
    """The chain of one partition, from its first record through `through_offset`.

    `chain_hash` is cumulative (it covers every record of the partition up to and including
    `through_offset`), so any later seal also vouches for everything an earlier one did.
    `previous_chain_hash` and `first_offset` name the segment this seal adds, so a seal can be
    checked on its own and a missing seal shows as a gap. The event id is
    uuid5(topic/partition/through_offset): a sealer that republishes a seal after a restart
    writes the same id.
    """

    key_field = "topic"
    type: Literal["audit.partition_sealed"] = "audit.partition_sealed"
    schema_version: Literal[1] = 1
    producer: Identifier = "sealer"
    topic: Identifier
    """The sealed topic's registry name, without any environment prefix."""
    partition: Offset
    """The sealed partition."""
    first_offset: Offset
    """The first offset of the segment this seal adds (the previous seal's through_offset + 1,
    or the partition's first offset)."""
    through_offset: Offset
    """The last offset covered (inclusive)."""
    record_count: StrictInt = Field(ge=1)
    """Records chained from the partition's start through `through_offset` (cumulative)."""
    chain_hash: Sha256Hex
    """h_n after the record at `through_offset`."""
    previous_chain_hash: Sha256Hex
    """The previous seal's chain_hash, or h_0 of the partition for its first seal."""
    record_digests: str
    """Base64 of an 8-byte digest per record of the segment, in offset order:
    sha256(sha256(key) || sha256(value))[:8]. Not the evidence (the chain is); they let the
    audit say which record diverged and how (altered, removed, reordered, inserted)."""
