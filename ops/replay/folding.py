"""Folding a service's log into its projection: from the beginning or a start cut up to a cut,
in memory or with the event_history rows written while the fold goes on."""

from __future__ import annotations

import time
from collections.abc import Callable

from ops.replay.load import HistoryStream
from services import registry
from shared.gcpause import collector_paused
from shared.logread import Cut, LogReader, LogRecord
from shared.projection import Projection
from shared.settings import Settings


async def take_cut(service: str, prefix: str = "", *, bootstrap_servers: str | None = None
                   ) -> Cut:
    bootstrap_servers = bootstrap_servers or Settings().kafka_bootstrap_servers
    topics = registry.projection(service).topics
    return await LogReader(bootstrap_servers, topics, prefix=prefix).cut()


async def fold_log(service: str, prefix: str = "", cut: Cut | None = None, *,
                   bootstrap_servers: str | None = None, start: Cut | None = None,
                   into: Projection | None = None) -> tuple[Projection, Cut, float]:
    """Fold the service's topics up to `cut` (default: their ends now), from the beginning
    or from `start`, into a new projection or into `into`."""
    bootstrap_servers = bootstrap_servers or Settings().kafka_bootstrap_servers
    folding = into or registry.projection(service)
    # Replay deduplicates by event id only, so the content digest would be wasted work.
    reader = LogReader(bootstrap_servers, folding.topics, prefix=prefix, digests=False)
    cut = cut or await reader.cut()
    started = time.perf_counter()
    with collector_paused():
        async for batch in reader.read(cut, start=start):
            folding.apply_batch(batch)
    return folding, cut, time.perf_counter() - started


async def fold_writing_history(
        service: str, prefix: str, cut: Cut, *, bootstrap_servers: str, database_url: str,
        schema: str, apply: Callable[[Projection, list[LogRecord]], None] | None = None,
) -> tuple[Projection, int]:
    """fold_log, with the event_history rows written into `schema` as the fold goes on.
    Returns the projection (its rows() without the history) and the history rows written.
    `apply` folds each batch instead of `Projection.apply_batch`."""
    folding = registry.projection(service)
    reader = LogReader(bootstrap_servers, folding.topics, prefix=prefix, digests=False)
    async with HistoryStream(database_url, schema) as stream:
        with collector_paused():
            async for batch in reader.read(cut):
                if apply is None:
                    folding.apply_batch(batch)
                else:
                    apply(folding, batch)
                await stream.offer(folding)
        written = await stream.finish(folding)
    return folding, written
