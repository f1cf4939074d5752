"""OpenTelemetry tracing: one trace follows a gift across services through Kafka headers.

Configured by the standard OTEL_* variables: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
name the process (else `coinlog-<service>`), the OTLP exporter reads its endpoint, headers,
OTEL_EXPORTER_OTLP_INSECURE and certificates itself, OTEL_TRACES_SAMPLER picks the sampler,
OTEL_BSP_* tune the batching, OTEL_SDK_DISABLED=true turns it all off. COINLOG_TRACES_FILE adds
an exporter that appends one JSON span per line to a file (for tests and a quick look).

Without an OTLP endpoint and without a traces file the API's no-op tracer stays in place and
spans cost nothing measurable. With one, asyncpg statements are traced too (as children of the
span they run in) and so are a service's HTTP requests (shared/runtime/service.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import IO

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

_configured = False


class NoStatementRoots(Sampler):
    """Roots of traces are what the service is asked to do (an event to process, an HTTP
    request), never a database statement on its own: the relay's polls, the readiness probes
    and the migrations would otherwise start a trace each, every second."""

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[Link] | None = None,
                      trace_state: trace.TraceState | None = None) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links,
                                       trace_state)

    def get_description(self) -> str:
        return "NoStatementRoots"


def _exporters(traces_file: str | None) -> list[SpanExporter]:
    exporters: list[SpanExporter] = []
    if traces_file:
        out: IO[str] = open(traces_file, "a", buffering=1)  # noqa: SIM115 - the process's
        exporters.append(ConsoleSpanExporter(
            out=out, formatter=lambda span: span.to_json(indent=None) + "\n"))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporters.append(OTLPSpanExporter())  # endpoint, TLS and headers from OTEL_*
    return exporters


def _resource(service_name: str, instance_id: str) -> Resource:
    detected = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    defaults: dict[str, str] = {}
    if str(detected.attributes.get(SERVICE_NAME, "unknown_service")).startswith(
            "unknown_service"):
        defaults[SERVICE_NAME] = f"coinlog-{service_name}"
    if SERVICE_INSTANCE_ID not in detected.attributes:
        defaults[SERVICE_INSTANCE_ID] = instance_id
    return detected.merge(Resource(defaults))


def setup_tracing(service_name: str, instance_id: str, traces_file: str | None = None) -> bool:
    """Install the SDK's tracer provider if an exporter is configured; True if tracing."""
    global _configured
    if _configured:
        return True
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporters = _exporters(traces_file)
    if not exporters:
        return False
    # The SDK reads OTEL_TRACES_SAMPLER itself when no sampler is given.
    sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else ParentBased(NoStatementRoots())
    provider = TracerProvider(resource=_resource(service_name, instance_id), sampler=sampler)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    AsyncPGInstrumentor().instrument(tracer_provider=provider)
    _configured = True
    return True


def tracing_enabled() -> bool:
    """Without an SDK provider every span is a no-op; callers skip the per-event work."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)
