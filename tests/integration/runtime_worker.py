"""A sample service process that kills itself with SIGKILL at a chosen point.

    python -m tests.integration.runtime_worker SUFFIX SCHEMA [CRASH_POINT]

Environment: BATCH (records per batch), SLOW_MS (each event takes this long to apply, so
that a batch is in flight for a while: a SIGTERM then finds one to finish).

Crash points:
  mid_batch            inside the handler, halfway through a batch, before the commit
  after_commit         after a batch commits, before its outbox is published
  after_publish        after Kafka acknowledged the outbox, before the rows are deleted
                       (and before any Kafka offset commit)
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from shared.runtime import consumer as consumer_module
from shared.runtime.relay import OutboxRelay
from shared.runtime.service import ServiceProcess
from shared.settings import Settings
from tests.integration.sample_app import SampleTopics, sample_dead_letters, sample_definition


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install_crash(point: str, process: ServiceProcess) -> None:
    if point == "after_commit":
        # The relay never publishes; the first committed batch ends the process.
        async def idle_relay(self: OutboxRelay) -> None:
            await asyncio.Event().wait()

        OutboxRelay.run = idle_relay  # type: ignore[method-assign]  # no publishing at all
        async def crash_after_commit(self: consumer_module.ConsumerRuntime) -> None:
            die()

        consumer_module.ConsumerRuntime._commit_hint = crash_after_commit  # type: ignore[method-assign]  # noqa: SLF001 - a crash point inside the runtime
    elif point == "after_publish":
        delete_and_read = OutboxRelay._delete_and_read  # noqa: SLF001 - a crash point inside the runtime

        async def crash_before_delete(self, conn, acknowledged, in_flight, limit):
            if acknowledged:  # Kafka has them; the statement would delete them
                die()
            return await delete_and_read(self, conn, acknowledged, in_flight, limit)

        OutboxRelay._delete_and_read = crash_before_delete  # type: ignore[method-assign]  # noqa: SLF001 - a crash point inside the runtime

        async def no_offset_commit(self: consumer_module.ConsumerRuntime) -> None:
            return None

        consumer_module.ConsumerRuntime._commit_hint = no_offset_commit  # type: ignore[method-assign]  # noqa: SLF001 - a crash point inside the runtime


async def main() -> None:
    suffix, schema = sys.argv[1], sys.argv[2]
    point = sys.argv[3] if len(sys.argv) > 3 else ""
    topics = SampleTopics.named(suffix)

    slow_s = int(os.environ.get("SLOW_MS", "0")) / 1000

    async def halfway(index: int, size: int) -> None:
        if point == "mid_batch" and size > 1 and index == size // 2:
            die()
        if slow_s:
            await asyncio.sleep(slow_s)  # the work of applying an event, not a wait

    definition = sample_definition(topics, before_commit=halfway)
    definition.dead_letters = sample_dead_letters(suffix)
    settings = Settings(COINLOG_DB_SCHEMA=schema, COINLOG_HTTP_PORT=-1,
                        COINLOG_INSTANCE_ID=f"worker-{os.getpid()}",
                        COINLOG_BATCH_MAX_RECORDS=int(os.environ.get("BATCH", "200")))
    process = ServiceProcess(definition, settings)
    install_crash(point, process)
    await process.run_until_signalled()


if __name__ == "__main__":
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    asyncio.run(main())
