"""Tracing set up from the standard OTEL_* variables, not from values written into the code."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import Decision, ParentBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from shared.telemetry import NoStatementRoots, _exporters, _resource


@pytest.fixture(autouse=True)
def no_otel_environment(monkeypatch):
    for name in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_EXPORTER_OTLP_ENDPOINT",
                 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_INSECURE"):
        monkeypatch.delenv(name, raising=False)


def test_the_service_name_is_otel_service_name_when_set(monkeypatch):
    assert _resource("wallet", "w-1").attributes["service.name"] == "coinlog-wallet"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "wallet-eu")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=pod-7,region=eu")
    attributes = _resource("wallet", "w-1").attributes
    assert (attributes["service.name"], attributes["service.instance.id"],
            attributes["region"]) == ("wallet-eu", "pod-7", "eu")


def test_no_endpoint_and_no_file_means_no_exporter():
    assert _exporters(None) == []


@pytest.mark.parametrize("endpoint, insecure, expected", [
    ("http://collector:4317", None, True),
    ("http://collector:4317", "false", False),
    ("https://collector:4317", None, False),
    ("collector:4317", "true", True),
])
def test_the_otlp_exporter_takes_its_transport_security_from_the_environment(
        monkeypatch, endpoint, insecure, expected):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    if insecure is not None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_INSECURE", insecure)
    (exporter,) = _exporters(None)
    assert exporter._insecure is expected  # noqa: SLF001 - what the SDK made of the variables
    exporter.shutdown()


def test_statements_start_no_trace_of_their_own_but_join_one():
    sampler = ParentBased(NoStatementRoots())
    assert sampler.should_sample(None, 1, "SELECT", SpanKind.CLIENT).decision is Decision.DROP
    assert sampler.should_sample(None, 1, "process t", SpanKind.CONSUMER).decision is \
        Decision.RECORD_AND_SAMPLE
    parent = trace.set_span_in_context(NonRecordingSpan(SpanContext(
        1, 2, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))))
    assert sampler.should_sample(parent, 1, "SELECT", SpanKind.CLIENT).decision is \
        Decision.RECORD_AND_SAMPLE
