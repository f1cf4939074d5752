"""Spans of the messaging conventions (OpenTelemetry semantic conventions for Kafka).

Consumers: one `process <topic>` span per applied event, child of the span that published it
(W3C trace context in the Kafka headers); the events it causes carry its context into the
outbox. The batch's statements run under the first event's span (a batch is one transaction).
Relay: one `send <topic>` span per outbox row, child of the process span that decided the event
(the context the outbox row carries), ended when Kafka acknowledges the record; its own context
replaces the decider's in the record's headers, so the next consumer's process span is its
child and one trace runs from the first request to the last event it caused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any, Self

from opentelemetry import propagate, trace
from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_CONSUMER_GROUP_NAME,
    MESSAGING_DESTINATION_NAME,
    MESSAGING_DESTINATION_PARTITION_ID,
    MESSAGING_KAFKA_MESSAGE_KEY,
    MESSAGING_KAFKA_OFFSET,
    MESSAGING_MESSAGE_ID,
    MESSAGING_OPERATION_NAME,
    MESSAGING_OPERATION_TYPE,
    MESSAGING_SYSTEM,
)
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from shared.runtime.unit import Inbound
from shared.telemetry import tracing_enabled

tracer = trace.get_tracer("coinlog.runtime")

TRACE_HEADERS = frozenset({"traceparent", "tracestate"})


def _key_text(key: bytes | None) -> dict[str, str]:
    # The conventions want the key as text only when it has one unambiguous form.
    if key is None:
        return {}
    try:
        return {MESSAGING_KAFKA_MESSAGE_KEY: key.decode("utf-8")}
    except UnicodeDecodeError:
        return {}


def _carrier(headers: Sequence[tuple[str, Any]]) -> dict[str, str]:
    return {name: value.decode("latin-1") if isinstance(value, bytes) else value
            for name, value in headers}


class BatchSpans:
    """The process spans of one batch; the first is current while the batch runs."""

    def __init__(self, group: str, inbounds: Sequence[Inbound]):
        self.group = group
        self.inbounds: list[Inbound] = list(inbounds)
        self._spans: list[Span] = []
        self._current: contextlib.ExitStack = contextlib.ExitStack()

    def __enter__(self) -> Self:
        if not tracing_enabled():
            return self
        traced = []
        for inbound in self.inbounds:
            span = self._process_span(inbound)
            if not span.is_recording():
                traced.append(inbound)
                continue
            self._spans.append(span)
            outgoing: dict[str, str] = {}
            propagate.inject(outgoing, context=trace.set_span_in_context(span))
            traced.append(replace(inbound, trace_headers=tuple(
                (name, value.encode("latin-1")) for name, value in outgoing.items())))
        self.inbounds = traced
        if self._spans:
            self._current.enter_context(trace.use_span(self._spans[0], end_on_exit=False))
        return self

    def _process_span(self, inbound: Inbound) -> Span:
        record = inbound.record
        return tracer.start_span(
            f"process {record.topic}", kind=SpanKind.CONSUMER,
            context=propagate.extract(_carrier(record.headers)),
            attributes={MESSAGING_SYSTEM: "kafka",
                        MESSAGING_OPERATION_TYPE: "process",
                        MESSAGING_OPERATION_NAME: "process",
                        MESSAGING_DESTINATION_NAME: record.topic,
                        MESSAGING_DESTINATION_PARTITION_ID: str(record.partition),
                        MESSAGING_KAFKA_OFFSET: record.offset,
                        MESSAGING_CONSUMER_GROUP_NAME: self.group,
                        MESSAGING_MESSAGE_ID: str(inbound.event.event_id),
                        **_key_text(record.key),
                        "coinlog.event_type": inbound.event.type})

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._current.close()
        for span in self._spans:
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, repr(error)))
            span.end()


Headers = list[tuple[str, str]]


@contextlib.contextmanager
def send_span(topic: str, key: bytes | None, event_id: str,
              headers: Headers) -> Iterator[tuple[Span | None, Headers]]:
    """A send span for one outbox row, child of the context its headers carry, and the headers
    to publish with (the decider's trace context replaced by the send span's). The span is
    left open: end it with `end_on_delivery` once the send is handed over."""
    if not tracing_enabled():
        yield None, headers
        return
    span = tracer.start_span(
        f"send {topic}", kind=SpanKind.PRODUCER, context=propagate.extract(_carrier(headers)),
        attributes={MESSAGING_SYSTEM: "kafka", MESSAGING_OPERATION_TYPE: "send",
                    MESSAGING_OPERATION_NAME: "send", MESSAGING_DESTINATION_NAME: topic,
                    MESSAGING_MESSAGE_ID: event_id, **_key_text(key)})
    injected: dict[str, str] = {}
    propagate.inject(injected, context=trace.set_span_in_context(span))
    kept = [(name, value) for name, value in headers if name not in TRACE_HEADERS]
    try:
        yield span, kept + sorted(injected.items())
    except BaseException as error:
        span.set_status(Status(StatusCode.ERROR, repr(error)))
        span.end()
        raise


def end_on_delivery(span: Span | None, delivery: asyncio.Future[Any]) -> None:
    """End the send span when Kafka has acknowledged the record (or the send failed)."""
    if span is None:
        return

    def delivered(future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            span.set_status(Status(StatusCode.ERROR, "send cancelled"))
        elif future.exception() is not None:
            span.set_status(Status(StatusCode.ERROR, repr(future.exception())))
        else:
            metadata = future.result()
            span.set_attribute(MESSAGING_DESTINATION_PARTITION_ID, str(metadata.partition))
            span.set_attribute(MESSAGING_KAFKA_OFFSET, metadata.offset)
        span.end()

    delivery.add_done_callback(delivered)
