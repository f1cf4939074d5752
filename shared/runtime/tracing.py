"""One span per applied event, child of the span that published it (W3C trace context in
the Kafka headers); the events it causes carry this span's context onward."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from types import TracebackType
from typing import Self

from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from shared.runtime.unit import Inbound

tracer = trace.get_tracer("coinlog.runtime")


class BatchSpans:
    def __init__(self, consumer: str, inbounds: Sequence[Inbound]):
        self.consumer = consumer
        self.inbounds: list[Inbound] = list(inbounds)
        self._spans: list[Span] = []

    def __enter__(self) -> Self:
        if not _tracing_configured():
            return self
        traced = []
        for inbound in self.inbounds:
            carrier = {name: value.decode("latin-1") for name, value in inbound.record.headers}
            record = inbound.record
            span = tracer.start_span(
                f"{self.consumer} apply {inbound.event.type}", kind=SpanKind.CONSUMER,
                context=propagate.extract(carrier),
                attributes={"messaging.system": "kafka",
                            "messaging.destination.name": record.topic,
                            "messaging.kafka.destination.partition": record.partition,
                            "messaging.kafka.message.offset": record.offset,
                            "messaging.consumer.group.name": self.consumer,
                            "coinlog.event_id": str(inbound.event.event_id)})
            if not span.is_recording():
                traced.append(inbound)
                continue
            self._spans.append(span)
            outgoing: dict[str, str] = {}
            propagate.inject(outgoing, context=trace.set_span_in_context(span))
            traced.append(replace(inbound, trace_headers=tuple(
                (name, value.encode("latin-1")) for name, value in outgoing.items())))
        self.inbounds = traced
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        for span in self._spans:
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, repr(error)))
            span.end()


def _tracing_configured() -> bool:
    """Without an SDK provider every span is a no-op; skip the per-event work altogether."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)
