"""When the input that started a chain of decisions reached the log, carried along the chain.

Every event a handler emits carries, in the Kafka header `coinlog-origin-ms`, the record time
(milliseconds since the epoch) of the input that started its chain: for an input read from a
topic the broker stamps (LogAppendTime: every fact topic from outside), that record's own time,
whatever headers its publisher sent; otherwise the origin its cause carried, or failing that
its cause's record time. Event times (`occurred_at`) are the publishers' and may be simulated;
this is the broker's clock, so a decision's latency from the request is measurable at every hop
(coinlog_gift_latency_seconds). Headers are not part of an event: replays and seals ignore it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from shared.runtime import metrics

ORIGIN_HEADER = "coinlog-origin-ms"

Headers = tuple[tuple[str, bytes], ...]


class Published(Protocol):
    @property
    def type(self) -> str: ...

    @property
    def headers(self) -> Headers: ...


def origin_ms(headers: Headers, timestamp_ms: int, log_append_time: bool) -> int:
    """The origin of an input record (see the module's docstring)."""
    if not log_append_time:
        for name, value in headers:
            if name == ORIGIN_HEADER:
                try:
                    return int(value)
                except ValueError:
                    break
    return timestamp_ms


def origin_header(headers: Headers, timestamp_ms: int,
                  log_append_time: bool) -> tuple[str, bytes]:
    return ORIGIN_HEADER, str(origin_ms(headers, timestamp_ms, log_append_time)).encode()


def observe_stages(published: Sequence[Published], stages: Mapping[str, str],
                   now_ms: int | None = None) -> None:
    """Observe, for each event published whose type ends a stage, the time from its origin.
    Called once the batch that decided them has committed."""
    if not stages:
        return
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    for item in published:
        stage = stages.get(item.type)
        if stage is None:
            continue
        origin = next((value for name, value in item.headers if name == ORIGIN_HEADER), None)
        if origin is not None and origin.isdigit():
            metrics.GIFT_LATENCY.labels(stage).observe(max(0, now_ms - int(origin)) / 1000)
