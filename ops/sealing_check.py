"""The demo's tamper-evidence check: seal the output partitions while the economy runs, then
recompute every hash chain against its seals."""

from __future__ import annotations

import asyncio
import contextlib

from ops.verdict import Verdict
from shared.logread import LogReader
from shared.sealing.audit import verify_log
from shared.sealing.registry import OUTPUT_TOPICS
from shared.sealing.sealer import Sealer, last_seals, read_seals

SEAL_TIMEOUT_S = 120.0


class SealingCheck:
    """Seals in this process, or (`external`) checks the seals a sealer process publishes."""

    def __init__(self, kafka: str, topic_prefix: str, *, external: bool = False):
        self.kafka = kafka
        self.topic_prefix = topic_prefix
        self.external = external
        self.sealer = Sealer(kafka, prefix=topic_prefix, seal_every_records=1000,
                             seal_every_s=1.0)
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if not self.external:
            self._task = asyncio.create_task(self.sealer.run(), name="sealer")

    async def _wait_sealed(self, ends: dict[tuple[str, int], int]) -> None:
        if not self.external:
            await self.sealer.wait_sealed(ends, timeout_s=SEAL_TIMEOUT_S)
            return
        deadline = asyncio.get_running_loop().time() + SEAL_TIMEOUT_S
        while True:
            last = last_seals(await read_seals(self.kafka, prefix=self.topic_prefix))
            if all(last[where].through_offset >= end - 1 if where in last else end == 0
                   for where, end in ends.items()):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError
            await asyncio.sleep(0.5)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def check(self) -> Verdict:
        """Wait until everything published so far is sealed, then verify the whole log."""
        name = "log untampered"
        cut = await LogReader(self.kafka, OUTPUT_TOPICS, prefix=self.topic_prefix).cut()
        try:
            await self._wait_sealed(cut.ends)
        except TimeoutError:
            return Verdict(name, False, f"not sealed within {SEAL_TIMEOUT_S:.0f} s")
        verified = await verify_log(self.kafka, prefix=self.topic_prefix)
        if verified.tampering:
            first = verified.tampering[0]
            return Verdict(name, False, f"{len(verified.tampering)} findings, first: "
                                                f"{first.kind} at {first.topic}[{first.partition}]"
                                                f"@{first.offset}")
        return Verdict(name, True, f"{verified.records:,} records of "
                                           f"{verified.partitions} partitions match their "
                                           f"{verified.seals:,} hash-chain seals")
