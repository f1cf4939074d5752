"""Verifying the log against its seals: pure, no I/O.

What is compared, per (topic, partition):

1. **The chain decides whether the log was tampered with.** The verifier recomputes h_n over
   the records it is given (in offset order) and, at each seal's `through_offset`, compares
   h and the cumulative record count with the seal. Every seal that matches vouches for the
   whole partition up to its offset.
2. **The locators say where and how.** From the first seal that does not match, the sealed
   records (the 8-byte content locators the seals carry, with their sealed offsets) are
   aligned with the records now in the log. At the first position where they differ:
   - `reordered`: the next c records (c >= 2) are the same records in another order, and
     from there on the log lines up again (reported at the first displaced offset);
   - `altered`: the record at that position has other content, and the log lines up again
     right after it (same offsets, different content; a run of c altered records is one
     finding with count c);
   - `removed`: sealed records are missing there: the log lines up again when the sealed
     sequence skips c records (an offset missing; in a rewritten copy the later offsets shift
     down). Reported at the sealed offset of the first missing record. A log that ends
     before its sealed records ends is `removed` too (count short);
   - `inserted`: the log has c records the seals do not have before it lines up again
     (reported at the offset of the first extra record).
   The walk then continues after the edit, so several independent edits are each reported.
   "Lines up" means the next 32 sealed records (or all the remaining ones) match; among the
   edits of the same size the one lined up over more records wins.
3. Records after the last seal are an `unsealed_tail`: information, not a failure.
4. The seals themselves must form a chain: each one's previous_chain_hash is the previous
   seal's chain_hash (h_0 for the first), its first_offset follows the previous
   through_offset and its record_count adds its segment. Otherwise `seals_inconsistent`.

Two cases cannot be told apart from offsets and contents alone, in a log rewritten without
gaps: removing the last sealed record while unsealed records follow looks like altering it.
The finding still names the right offset.
"""

from __future__ import annotations

import binascii
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import groupby
from operator import attrgetter

from shared.contract.events.seals import PartitionSealed
from shared.sealing.chain import RecordLike, genesis, step
from shared.sealing.seal import seal_locators

LOOKAHEAD = 32
"""Records that must match after an edit for the log to count as lined up again."""
WINDOW = 64
"""The largest edit (records) the alignment looks for."""
MAX_FINDINGS_PER_PARTITION = 100


class FindingKind(StrEnum):
    altered = "altered"
    removed = "removed"
    reordered = "reordered"
    inserted = "inserted"
    unsealed_tail = "unsealed_tail"
    """Records after the last seal: not (yet) covered. Information, not a failure."""
    seals_inconsistent = "seals_inconsistent"
    """The seals of a partition do not chain (one missing, forged or from a second sealer)."""


@dataclass(frozen=True, slots=True)
class Finding:
    topic: str
    partition: int
    offset: int
    """The first offset where the log diverges from its seals (for `removed`, the sealed
    offset of the first missing record)."""
    kind: FindingKind
    count: int = 1
    """Records involved: altered, removed, inserted or displaced; the tail's length."""
    detail: str = ""

    @property
    def is_tampering(self) -> bool:
        return self.kind is not FindingKind.unsealed_tail

    @property
    def where(self) -> tuple[str, int, int]:
        return self.topic, self.partition, self.offset


class PartitionVerifier:
    """Streams one partition's records (in offset order) past its seals.

    Memory stays at one segment's locators while seals match; from the first mismatch on, the
    locators of the rest of the partition are kept for the alignment.
    """

    def __init__(self, topic: str, partition: int, seals: Iterable[PartitionSealed]):
        self.topic = topic
        self.partition = partition
        self.findings: list[Finding] = []
        self.seals = self._check_seals(seals)
        self.head = genesis(topic, partition)
        self.record_count = 0
        self.last_offset = -1
        self.records_seen = 0
        self._next_seal = 0
        self._first_failed: int | None = None
        self._offsets: list[int] = []
        self._locators: list[bytes] = []
        """Records after the last seal that matched (offsets and locators)."""

    def _check_seals(self, seals: Iterable[PartitionSealed]) -> list[PartitionSealed]:
        by_through: dict[int, PartitionSealed] = {}
        for seal in seals:
            kept = by_through.setdefault(seal.through_offset, seal)
            if kept.chain_hash != seal.chain_hash or kept.record_count != seal.record_count:
                self.add_finding(seal.through_offset, FindingKind.seals_inconsistent,
                              detail=f"two seals through {seal.through_offset} disagree")
        ordered = [by_through[through] for through in sorted(by_through)]
        previous_hash, previous_count, previous_through = (
            genesis(self.topic, self.partition).hex(), 0, -1)
        for seal in ordered:
            try:
                segment = len(seal_locators(seal))
            except (binascii.Error, ValueError):
                segment = -1
            problems = []
            if seal.previous_chain_hash != previous_hash:
                problems.append("previous_chain_hash is not the previous seal's chain_hash")
            if not previous_through < seal.first_offset <= seal.through_offset:
                problems.append(f"segment {seal.first_offset}..{seal.through_offset} does not "
                                f"follow offset {previous_through}")
            if segment < 0 or seal.record_count != previous_count + segment:
                problems.append("record_count does not add up with the record digests")
            if problems:
                self.add_finding(seal.first_offset, FindingKind.seals_inconsistent,
                              detail="; ".join(problems))
            previous_hash, previous_count, previous_through = (
                seal.chain_hash, seal.record_count, seal.through_offset)
        return ordered

    def add_finding(self, offset: int, kind: FindingKind, count: int = 1, detail: str = "") -> None:
        self.findings.append(Finding(self.topic, self.partition, offset, kind, count, detail))

    def _check_seals_through(self, offset: int) -> None:
        """Compare every seal whose through_offset is below `offset` with the chain so far."""
        seals = self.seals
        while self._next_seal < len(seals) and seals[self._next_seal].through_offset < offset:
            seal = seals[self._next_seal]
            matches = (seal.chain_hash == self.head.hex()
                       and seal.record_count == self.record_count)
            if self._first_failed is None:
                if matches:
                    self._offsets.clear()
                    self._locators.clear()
                else:
                    self._first_failed = self._next_seal
            self._next_seal += 1

    def feed(self, records: Iterable[RecordLike]) -> None:
        for record in records:
            offset = record.offset
            if offset <= self.last_offset:
                continue  # a reader repeating itself; offsets only grow in a partition
            if self._next_seal < len(self.seals) and \
                    self.seals[self._next_seal].through_offset < offset:
                self._check_seals_through(offset)
            self.head, record_locator = step(self.head, offset, record.key, record.value)
            self.record_count += 1
            self.last_offset = offset
            self.records_seen += 1
            self._offsets.append(offset)
            self._locators.append(record_locator)

    def finish(self) -> list[Finding]:
        self._check_seals_through(1 << 63)
        if self._first_failed is None:
            if self._offsets:
                self.add_finding(self._offsets[0], FindingKind.unsealed_tail, len(self._offsets),
                              "records after the last seal")
            return self.findings
        self._locate(self.seals[self._first_failed:])
        return self.findings

    def _locate(self, seals: Sequence[PartitionSealed]) -> None:
        sealed_offsets: list[int | None] = []
        sealed: list[bytes] = []
        for seal in seals:
            try:
                locators = seal_locators(seal)
            except (binascii.Error, ValueError):
                self.add_finding(seals[0].first_offset, FindingKind.altered, detail=(
                    f"chain differs from the seal through {seals[0].through_offset}; a seal's "
                    "record digests are unreadable, so the record is not located"))
                return
            contiguous = seal.through_offset - seal.first_offset + 1 == len(locators)
            sealed_offsets.extend(range(seal.first_offset, seal.through_offset + 1)
                                  if contiguous else [None] * len(locators))
            sealed.extend(locators)
        found = self._offsets, self._locators
        before = len(self.findings)
        j = _align(self, sealed_offsets, sealed, *found)
        if not any(f.is_tampering for f in self.findings[before:]):
            first = seals[0]
            self.add_finding(first.first_offset, FindingKind.altered, detail=(
                f"chain differs from the seal through {first.through_offset}, but the record "
                "digests agree (offsets changed, or digests collide)"))
        if j is not None and j < len(found[0]):
            self.add_finding(found[0][j], FindingKind.unsealed_tail, len(found[0]) - j,
                          "records after the last seal")


def _lined_up(sealed: list[bytes], found: list[bytes], i: int, j: int) -> int:
    """How many records line up from sealed[i] and found[j] (up to LOOKAHEAD), or -1."""
    if i > len(sealed) or j > len(found):
        return -1
    n = min(LOOKAHEAD, len(sealed) - i)
    return n if found[j:j + n] == sealed[i:i + n] else -1


def _edit(sealed: list[bytes], found: list[bytes], i: int,
          j: int) -> tuple[FindingKind, int, int] | None:
    """The smallest edit at sealed[i] != found[j] after which the two line up again:
    (kind, sealed records consumed, found records consumed)."""
    # Reordered: the same records in another order, then lined up again.
    want: Counter[bytes] = Counter()
    have: Counter[bytes] = Counter()
    for c in range(1, WINDOW + 1):
        if i + c > len(sealed) or j + c > len(found):
            break
        want[sealed[i + c - 1]] += 1
        have[found[j + c - 1]] += 1
        if c >= 2 and want == have and _lined_up(sealed, found, i + c, j + c) >= 0:
            return FindingKind.reordered, c, c
    for c in range(1, WINDOW + 1):
        best: tuple[int, FindingKind, int, int] | None = None
        for kind, di, dj in ((FindingKind.altered, c, c), (FindingKind.removed, c, 0),
                             (FindingKind.inserted, 0, c)):
            lined_up = _lined_up(sealed, found, i + di, j + dj)
            if lined_up >= 0 and (best is None or lined_up > best[0]):
                best = (lined_up, kind, di, dj)
        if best is not None:
            return best[1], best[2], best[3]
    return None


def _align(verifier: PartitionVerifier, sealed_offsets: list[int | None], sealed: list[bytes],
           offsets: list[int], found: list[bytes]) -> int | None:
    """Walk the sealed records and the records found; report each edit. Returns where the
    walk stopped among the records found (the unsealed tail starts there), or None if it
    lost track."""
    i = j = 0
    while i < len(sealed) and j < len(found):
        if sealed[i] == found[j]:
            i += 1
            j += 1
            continue
        if len(verifier.findings) >= MAX_FINDINGS_PER_PARTITION:
            return None
        edit = _edit(sealed, found, i, j)
        if edit is None:
            verifier.add_finding(offsets[j], FindingKind.altered, detail=(
                f"diverges from its seals here; no realignment within {WINDOW} records"))
            return None
        kind, di, dj = edit
        if kind is FindingKind.removed:
            sealed_at = sealed_offsets[i]
            offset = sealed_at if sealed_at is not None else offsets[j]
            detail = "sealed records missing from the log"
        elif kind is FindingKind.inserted:
            offset, detail = offsets[j], "records the seals do not have"
        elif kind is FindingKind.reordered:
            offset, detail = offsets[j], "sealed records in another order"
        else:
            offset, detail = offsets[j], "content differs from the sealed record"
        verifier.add_finding(offset, kind, max(di, dj), detail)
        i += di
        j += dj
    if i < len(sealed):
        missing_at = sealed_offsets[i]
        if missing_at is None:
            missing_at = offsets[j - 1] + 1 if j else 0
        verifier.add_finding(missing_at, FindingKind.removed, len(sealed) - i,
                          "the log ends before its sealed records do (count short)")
    return j


class LogVerifier:
    """Verifies many partitions; records may come in batches mixing partitions."""

    def __init__(self, seals: Iterable[PartitionSealed], topics: Iterable[str] | None = None):
        wanted = set(topics) if topics is not None else None
        by_partition: dict[tuple[str, int], list[PartitionSealed]] = {}
        self.seal_count = 0
        for seal in seals:
            if wanted is None or seal.topic in wanted:
                by_partition.setdefault((seal.topic, seal.partition), []).append(seal)
                self.seal_count += 1
        self.partitions = {where: PartitionVerifier(*where, partition_seals)
                           for where, partition_seals in by_partition.items()}

    def partition(self, topic: str, partition: int) -> PartitionVerifier:
        verifier = self.partitions.get((topic, partition))
        if verifier is None:
            verifier = self.partitions[(topic, partition)] = PartitionVerifier(topic, partition,
                                                                              ())
        return verifier

    def feed(self, records: Iterable) -> None:
        """Records with .topic and .partition (e.g. LogRecord), in offset order per partition."""
        for (topic, partition), run in groupby(records, attrgetter("topic", "partition")):
            self.partition(topic, partition).feed(list(run))

    @property
    def records_seen(self) -> int:
        return sum(verifier.records_seen for verifier in self.partitions.values())

    def finish(self) -> list[Finding]:
        findings = []
        for where in sorted(self.partitions):
            findings.extend(self.partitions[where].finish())
        return findings


def verify(records_by_partition: Mapping[tuple[str, int], Iterable[RecordLike]],
           seals: Iterable[PartitionSealed]) -> list[Finding]:
    """Every finding of the records (per (topic, partition), in offset order) against the
    seals. No finding with `is_tampering` means the log is as it was sealed."""
    verifier = LogVerifier(seals)
    for (topic, partition), records in records_by_partition.items():
        verifier.partition(topic, partition).feed(sorted(records, key=lambda r: r.offset))
    return verifier.finish()

