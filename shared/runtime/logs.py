"""Process logging: one JSON object per line (or plain lines for a person), and one line per
change of state during an outage, not one per retry.

A JSON line names the service, the OpenTelemetry trace and span it was written in, and, while
the consumer runtime handles an event, that event's id and correlation id: a log pipeline joins
the lines of one gift across services by them.

While Kafka or PostgreSQL is down, every client retries every few hundred milliseconds and logs
each attempt (aiokafka's connection errors, our batch retries, the relay reconnecting), so one
outage wrote thousands of identical lines. The filter lets the first line of each kind through,
then holds back its repeats for a while and writes one reminder with their count. The code that
recovers says so in a line of its own ("... applied after N attempts").
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import orjson
from opentelemetry import context as otel_context, propagate, trace

REMINDER_EVERY_S = 30.0
KINDS_REMEMBERED = 1000
"""Bounded: pre-formatted messages would otherwise make every line a kind of its own."""


class QuietRepeats(logging.Filter):
    """Warnings and errors of the same kind (logger, level, message template) pass once per
    `every_s`; the one after the pause carries how many were held back. Lower levels pass."""

    def __init__(self, every_s: float = REMINDER_EVERY_S,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.every_s = every_s
        self.clock = clock
        self._kinds: OrderedDict[tuple[str, int, str], list[float | int]] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        kind = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        seen = self._kinds.get(kind)
        if seen is None:
            self._kinds[kind] = [now, 0]
            if len(self._kinds) > KINDS_REMEMBERED:
                self._kinds.popitem(last=False)
            return True
        self._kinds.move_to_end(kind)
        shown_at, held_back = seen
        if now - shown_at < self.every_s:
            seen[1] = int(held_back) + 1
            return False
        seen[0], seen[1] = now, 0
        if held_back:
            record.msg = f"{record.msg} [and {held_back} more like this in the last " \
                         f"{now - shown_at:.0f} s]"
        return True


_handling: ContextVar[tuple[str, str] | None] = ContextVar("coinlog_handling", default=None)
"""(event id, correlation id) of the event being handled in this task, if any."""


@contextmanager
def handling(event_id: UUID | str, correlation_id: UUID | str | None,
             trace_headers: tuple[tuple[str, bytes], ...] = ()) -> Iterator[None]:
    """Every line logged inside names this event (an event that starts a chain correlates
    with itself) and, given the trace headers of its span, that span."""
    token = _handling.set((str(event_id), str(correlation_id or event_id)))
    attached = None
    if trace_headers:
        carrier = {name: value.decode("latin-1") for name, value in trace_headers}
        attached = otel_context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        if attached is not None:
            otel_context.detach(attached)
        _handling.reset(token)


class JsonLines(logging.Formatter):
    """One JSON object per record, on one line."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
            "service": self.service}
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        handled = _handling.get()
        if handled is not None:
            entry["event_id"], entry["correlation_id"] = handled
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def formatter(log_format: Literal["json", "plain"], service: str) -> logging.Formatter:
    return JsonLines(service) if log_format == "json" else logging.Formatter(PLAIN_FORMAT)


def configure(level: str, *, log_format: Literal["json", "plain"] = "plain",
              service: str = "coinlog") -> None:
    """Lines on stderr in `log_format`, repeats held back on every handler the process logs
    through."""
    logging.basicConfig(level=level, format=PLAIN_FORMAT)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter(log_format, service))
    quiet = QuietRepeats()
    for handler in logging.getLogger().handlers:
        handler.addFilter(quiet)
    # FastStream's broker logger writes through a handler of its own and does not propagate;
    # a filter on the logger itself outlives the handler FastStream adds later.
    logging.getLogger(FASTSTREAM_LOGGER).addFilter(quiet)


FASTSTREAM_LOGGER = "faststream.access.kafka"
