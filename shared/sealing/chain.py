"""The hash chain of one partition: pure functions over (offset, key, value), no I/O.

    h_0 = sha256(b"coinlog-chain" || topic (UTF-8) || partition (4 bytes, big-endian))
    h_n = sha256(h_{n-1} || offset (8 bytes, big-endian) || D(key) || D(value))

over the partition's records in offset order, where D(b) = sha256(b), and 32 zero bytes for an
absent (null) key or value, so a null differs from an empty one. `topic` is the registry name
without any environment prefix, so a copy of the log under another prefix has the same chain.

What is covered: offset, key and value. Not covered: headers (trace context, rewritten freely)
and the broker's timestamps.

Beside the chain, each record has a short *locator*, sha256(D(key) || D(value))[:8]: its
content without its offset. Seals carry the locators of the records they add, so a verifier
that found a chain mismatch can align the log against them and say which record diverged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

GENESIS_DOMAIN = b"coinlog-chain"
NULL_DIGEST = bytes(32)
"""D(None): a null key or value. No known input hashes to it."""
LOCATOR_BYTES = 8

_sha256 = hashlib.sha256


class RecordLike(Protocol):
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Record:
    offset: int
    key: bytes | None
    value: bytes | None


def genesis(topic: str, partition: int) -> bytes:
    """h_0 of a partition."""
    return _sha256(GENESIS_DOMAIN + topic.encode() + partition.to_bytes(4, "big")).digest()


def digest(data: bytes | None) -> bytes:
    """D(key) or D(value)."""
    return NULL_DIGEST if data is None else _sha256(data).digest()


def link(previous: bytes, offset: int, key_digest: bytes, value_digest: bytes) -> bytes:
    """h_n from h_{n-1} and the record's offset and digests."""
    return _sha256(previous + offset.to_bytes(8, "big") + key_digest + value_digest).digest()


def locator(key_digest: bytes, value_digest: bytes) -> bytes:
    return _sha256(key_digest + value_digest).digest()[:LOCATOR_BYTES]


def step(previous: bytes, offset: int, key: bytes | None,
         value: bytes | None) -> tuple[bytes, bytes]:
    """(h_n, locator) of one record."""
    key_digest = NULL_DIGEST if key is None else _sha256(key).digest()
    value_digest = NULL_DIGEST if value is None else _sha256(value).digest()
    return (_sha256(previous + offset.to_bytes(8, "big") + key_digest + value_digest).digest(),
            _sha256(key_digest + value_digest).digest()[:LOCATOR_BYTES])


def extend(previous: bytes, records: Iterable[RecordLike]) -> bytes:
    """The chain after `records` (in offset order), starting from `previous`."""
    head = previous
    for record in records:
        head = link(head, record.offset, digest(record.key), digest(record.value))
    return head


def chain(topic: str, partition: int, records: Iterable[RecordLike]) -> bytes:
    """h_n of a whole partition."""
    return extend(genesis(topic, partition), records)
