"""OpenTelemetry tracing: one trace follows a gift across services through Kafka headers.

Without OTEL_EXPORTER_OTLP_ENDPOINT the API's no-op tracer stays in place and spans cost
nothing measurable.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False


def setup_tracing(service_name: str, otlp_endpoint: str | None, instance_id: str) -> None:
    global _configured
    if _configured or not otlp_endpoint:
        return
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({
        "service.name": f"coinlog-{service_name}", "service.instance.id": instance_id}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint,
                                                                    insecure=True)))
    trace.set_tracer_provider(provider)
    _configured = True
