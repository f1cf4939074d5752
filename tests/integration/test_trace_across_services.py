"""One trace from a GiftRequested published with a traceparent header, through gifting, wallet
and payout running as processes, to the DiamondsEarned it caused; with database statements
and HTTP requests as spans under the ones they served. Each process exports its spans to a
JSON-lines file (COINLOG_TRACES_FILE)."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from ops.namespace import Namespace
from ops.seed import seed_events
from ops.services import ServiceFleet, service_environment
from shared import kafka_client
from shared.contract.codec import encode
from shared.contract.topics import ALL_TOPICS, GIFT_REQUESTS, PAYOUT_LEDGER
from shared.runtime.acl_admin import ensure_acls
from shared.runtime.kafka_admin import ensure_topics
from tests.e2e.world import World
from tests.integration.conftest import read_topic
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

SERVICES = ("gifting", "wallet", "payout")


@pytest.fixture
async def fleet(infra, tmp_path: Path) -> AsyncIterator[tuple[ServiceFleet, Namespace]]:
    namespace = Namespace.isolated(f"tr_{uuid.uuid4().hex[:8]}")
    environment = {**service_environment(infra.kafka_bootstrap_servers, infra.database_url),
                   "OTEL_BSP_SCHEDULE_DELAY": "100"}
    environment.pop("OTEL_SERVICE_NAME", None)
    environment.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    overrides = {name: {"COINLOG_TRACES_FILE": str(tmp_path / f"{name}.jsonl")}
                 for name in SERVICES}
    overrides["wallet"]["OTEL_SERVICE_NAME"] = "wallet-by-otel-env"
    fleet = ServiceFleet(environment, namespace, "trace", log_dir=tmp_path)
    # As a deployment's one step with create rights: the topics, and each principal's ACLs.
    await ensure_topics(infra.kafka_bootstrap_servers, ALL_TOPICS, prefix=namespace.topic_prefix)
    await ensure_acls(infra.kafka_bootstrap_servers, namespace.topic_prefix)
    await fleet.start(overrides=overrides)
    try:
        yield fleet, namespace
    finally:
        codes = await fleet.stop()
        assert set(codes.values()) <= {0}, codes


def spans_in(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def traced(fleet_dir: Path, trace_id: str) -> dict[str, list[dict[str, Any]]]:
    return {name: [span for span in spans_in(fleet_dir / f"{name}.jsonl")
                   if span["context"]["trace_id"] == f"0x{trace_id}"] for name in SERVICES}


async def test_one_trace_from_gift_request_to_diamonds_earned(infra, fleet, tmp_path):
    services, namespace = fleet
    producer = kafka_client.producer(bootstrap_servers=infra.kafka_bootstrap_servers,
                                     enable_idempotence=True)
    await producer.start()
    try:
        world = World(producer, uuid.uuid4().hex[:8], namespace.topic_prefix)
        await world.publish(*seed_events())
        await services.wait_ready()
        creator, viewer = world.id("creator"), world.id("viewer")
        stream = world.stream_started(creator)
        await world.publish(world.adult(creator), world.verified_creator(creator), stream,
                            world.adult(viewer), world.purchase(viewer, 16500),
                            world.purchase(viewer, 16500))
        await wait_until(lambda: services.get_json("wallet", f"/wallets/{viewer}"),
                         ready=lambda body: body["balance"] == 33000 and body["adult"],
                         describe="the viewer's coins", not_yet=(Exception,))
        await wait_until(lambda: services.get_json("gifting", f"/streams/{stream.stream_id}"),
                         ready=lambda body: body["live"] and body["creator_adult"],
                         describe="the live stream", not_yet=(Exception,))

        trace_id, parent = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        gift = world.gift(viewer, stream, "lion")
        await (await producer.send(
            namespace.topic_prefix + GIFT_REQUESTS.name, encode(gift), key=gift.key.encode(),
            headers=[("traceparent", f"00-{trace_id}-{parent}-01".encode())]))
        earned = await wait_until(
            lambda: _diamonds_earned(infra, namespace, gift.request_id),
            describe="DiamondsEarned for the gift", timeout_s=90, not_yet=(AssertionError,))
        http_trace = uuid.uuid4().hex
        await asyncio.to_thread(_get_with_trace, services["wallet"].base_url + f"/wallets/{viewer}",
                                services.token, http_trace)
    finally:
        await producer.stop()

    headers = dict(earned.headers)
    assert headers["traceparent"].decode().split("-")[1] == trace_id
    await services.stop()  # each process flushes its spans as it exits
    found = traced(tmp_path, trace_id)
    _assert_one_tree(found, parent)
    names = {name: {span["name"] for span in spans} for name, spans in found.items()}
    prefix = namespace.topic_prefix
    assert {f"process {prefix}streams.gift-requests", f"send {prefix}gifting.gifts"} <= \
        names["gifting"]
    assert f"send {prefix}wallet.ledger" in names["wallet"]
    assert f"send {prefix}{PAYOUT_LEDGER.name}" in names["payout"]
    assert {span["resource"]["attributes"]["service.name"] for span in found["wallet"]} == {
        "wallet-by-otel-env"}
    assert {span["resource"]["attributes"]["service.name"] for span in found["payout"]} == {
        "coinlog-payout"}
    for name, spans in found.items():
        _assert_statements_under_process_spans(name, spans)
    _assert_http_span_with_statements(traced(tmp_path, http_trace)["wallet"])


async def _diamonds_earned(infra, namespace: Namespace, request_id: str):
    records = await read_topic(infra.kafka_bootstrap_servers,
                               namespace.topic_prefix + PAYOUT_LEDGER.name, expect=1,
                               timeout_s=5)
    for record in records:
        payload = orjson.loads(record.value)
        if payload["type"] == "payout.diamonds_earned" and payload["request_id"] == request_id:
            return record
    return None


def _get_with_trace(url: str, token: str, trace_id: str) -> None:
    request = urllib.request.Request(url, headers={
        "Authorization": f"Bearer {token}",
        "traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def _assert_one_tree(found: dict[str, list[dict[str, Any]]], root_parent: str) -> None:
    """Every span of the trace hangs, through its parents, from the publisher's span."""
    spans = {span["context"]["span_id"]: span for group in found.values() for span in group}
    assert all(found.values()), {name: len(group) for name, group in found.items()}
    for span in spans.values():
        hops, node = 0, span
        while node["parent_id"] in spans:
            node, hops = spans[node["parent_id"]], hops + 1
            assert hops < 1000
        assert node["parent_id"] == f"0x{root_parent}", (span["name"], node["name"])


def _assert_statements_under_process_spans(name: str, spans: list[dict[str, Any]]) -> None:
    by_id = {span["context"]["span_id"]: span for span in spans}
    process = [span for span in spans if span["name"].startswith("process ")]
    assert process, name
    for span in process:
        attributes = span["attributes"]
        assert span["kind"] == "SpanKind.CONSUMER"
        assert attributes["messaging.system"] == "kafka"
        assert attributes["messaging.operation.type"] == "process"
        assert attributes["messaging.consumer.group.name"].endswith(name)
        assert {"messaging.destination.name", "messaging.destination.partition.id",
                "messaging.kafka.offset", "messaging.kafka.message.key"} <= set(attributes)
    statements = [span for span in spans if span["kind"] == "SpanKind.CLIENT"
                  and by_id.get(span["parent_id"], {}).get("name", "").startswith("process ")]
    assert statements, f"{name}: no database statement under a process span"
    sends = [span for span in spans if span["name"].startswith("send ")]
    for span in sends:
        assert span["kind"] == "SpanKind.PRODUCER"
        assert span["attributes"]["messaging.operation.type"] == "send"
        assert "messaging.kafka.offset" in span["attributes"]  # set on the acknowledgement


def _assert_http_span_with_statements(spans: list[dict[str, Any]]) -> None:
    servers = [span for span in spans if span["kind"] == "SpanKind.SERVER"]
    assert len(servers) == 1, [span["name"] for span in spans]
    server = servers[0]["context"]["span_id"]
    by_id = {span["context"]["span_id"]: span for span in spans}

    def under_server(span: dict[str, Any]) -> bool:
        while span["parent_id"] in by_id:
            if span["parent_id"] == server:
                return True
            span = by_id[span["parent_id"]]
        return False

    statements = [span for span in spans if span["kind"] == "SpanKind.CLIENT"]
    assert statements and all(under_server(span) for span in statements)
