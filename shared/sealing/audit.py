"""Verifying the log on Kafka against the seals on Kafka."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from shared.contract.topics import Topic
from shared.logread import LogReader, LogRecord
from shared.sealing.registry import OUTPUT_TOPICS
from shared.sealing.sealer import read_seals
from shared.sealing.verify import Finding, LogVerifier


@dataclass(frozen=True)
class LogVerification:
    findings: list[Finding]
    records: int
    seals: int
    partitions: int
    elapsed_s: float
    ends: dict[tuple[str, int], int] = field(default_factory=dict)
    """The cut verified: exclusive end offsets per (topic, partition)."""

    @property
    def tampering(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.is_tampering]

    @property
    def ok(self) -> bool:
        return not self.tampering


async def verify_log(bootstrap_servers: str, topics: Sequence[Topic] = OUTPUT_TOPICS,
                     prefix: str = "", *, seals: Topic | None = None,
                     progress: Callable[[int, int], None] | None = None) -> LogVerification:
    """Read the seals, then every record of `topics` (from offset 0 up to the end offsets at
    that moment), recompute each partition's chain and compare.

    The seals are read first, so every seal read covers records that exist by the time the
    records' cut is taken: a partition that ends before its last seal was cut short.
    `progress(done, total)` is called after each batch of records.
    """
    started = time.perf_counter()
    published = await read_seals(bootstrap_servers, seals, prefix=prefix)
    reader = LogReader(bootstrap_servers, topics, prefix=prefix)
    cut = await reader.cut()
    verifier = LogVerifier(published, topics=[topic.name for topic in topics])
    for where, end in cut.ends.items():
        if end > 0:
            verifier.partition(*where)
    done = 0
    # (LogReader.read of an empty cut raises CancelledError: see read_seals.)
    batches = reader.read(cut, decode_events=False, batch_records=20_000) if cut.total else ()
    async for batch in _aiter(batches):
        verifier.feed(batch)
        done += len(batch)
        if progress is not None:
            progress(done, cut.total)
    findings = verifier.finish()
    return LogVerification(findings, verifier.records_seen, verifier.seal_count,
                           len(verifier.partitions), time.perf_counter() - started,
                           dict(cut.ends))


async def _aiter(batches: AsyncIterator[list[LogRecord]] | tuple[()],
                 ) -> AsyncIterator[list[LogRecord]]:
    if isinstance(batches, tuple):
        return
    async for batch in batches:
        yield batch
