"""The runtime's metrics without a broker: the origin carried from cause to effect, the gift
latency it gives, HTTP metrics by route template, the scrape target file, the build info."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from prometheus_client import REGISTRY

from services.registry import service
from shared.runtime import metrics
from shared.runtime.http import service_app
from shared.runtime.origin import ORIGIN_HEADER, observe_stages, origin_ms
from shared.runtime.scrape_target import ScrapeTarget
from shared.runtime.unit import Outgoing
from tests.tokens import ops_headers, verifier
from tests.unit.test_http_api import _Process


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_broker_stamped_record_is_its_own_origin_whatever_its_headers_say():
    forged = ((ORIGIN_HEADER, b"1"),)
    assert origin_ms(forged, 5_000, log_append_time=True) == 5_000


def test_an_event_of_ours_carries_the_origin_of_its_chain():
    carried = (("traceparent", b"00-x"), (ORIGIN_HEADER, b"1234"))
    assert origin_ms(carried, 9_999, log_append_time=False) == 1234
    # No origin (published before it existed) or a broken one: the record's own time.
    assert origin_ms((), 9_999, log_append_time=False) == 9_999
    assert origin_ms(((ORIGIN_HEADER, b"soon"),), 9_999, log_append_time=False) == 9_999


def _published(event_type: str, origin: bytes | None) -> Outgoing:
    headers = ((ORIGIN_HEADER, origin),) if origin is not None else ()
    return Outgoing(uuid.uuid4(), "gifting.gifts", b"k", b"{}", headers, event_type)


def test_gift_latency_is_observed_for_the_events_that_end_a_stage():
    stages = {"gifting.gift_sent": "outcome"}
    count = sample("coinlog_gift_latency_seconds_count", stage="outcome")
    total = sample("coinlog_gift_latency_seconds_sum", stage="outcome")
    observe_stages([_published("gifting.gift_sent", b"10000"),
                    _published("gifting.gift_priced", b"10000"),   # not a stage's end
                    _published("gifting.gift_sent", None),          # no origin: not measured
                    _published("gifting.gift_sent", b"12500")], stages, now_ms=13_000)
    assert sample("coinlog_gift_latency_seconds_count", stage="outcome") == count + 2
    assert sample("coinlog_gift_latency_seconds_sum", stage="outcome") == pytest.approx(
        total + 3.0 + 0.5)


def test_the_gift_path_services_name_their_stages():
    assert set(service("gifting").latency_stages.values()) == {"outcome"}
    assert service("payout").latency_stages == {"payout.diamonds_earned": "diamonds_earned"}
    for name in ("gifting", "payout"):
        emitted = {event.model_fields["type"].default for topic in service(name).topics
                   if topic.owner == name for event in topic.events}
        assert set(service(name).latency_stages) <= emitted, name


async def test_http_requests_are_counted_by_route_template_and_status():
    process = _Process()
    app = service_app(service("wallet"), process.pool, process,  # type: ignore[arg-type]
                      verifier())
    labels = {"route": "/wallets/{user_id}", "method": "GET", "status": "503"}
    before = sample("coinlog_http_requests_total", **labels)
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    before_unmatched = sample("coinlog_http_requests_total", **unmatched)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test", headers=ops_headers()) as client:
        for user in ("u1", "u2", "u3"):
            assert (await client.get(f"/wallets/{user}")).status_code == 503
        assert (await client.get("/no/such/route")).status_code == 404
    assert sample("coinlog_http_requests_total", **labels) == before + 3
    assert sample("coinlog_http_requests_total", **unmatched) == before_unmatched + 1
    assert sample("coinlog_http_request_duration_seconds_count", route="/wallets/{user_id}",
                  method="GET") >= 3
    # The path itself never becomes a label.
    assert not [metric for metric in REGISTRY.collect() for s in metric.samples
                if s.labels.get("route") == "/wallets/u1"]


def test_a_scrape_target_is_announced_and_withdrawn(tmp_path):
    target = ScrapeTarget(tmp_path, "wallet", "demo/1")
    target.announce("0.0.0.0", 8123)
    (written,) = (tmp_path / "prometheus" / "targets").glob("*.json")
    assert json.loads(written.read_text()) == [{
        "targets": ["127.0.0.1:8123"],
        "labels": {"service": "wallet", "coinlog_instance": "demo/1"}}]
    target.withdraw()
    target.withdraw()  # twice is harmless
    assert not list((tmp_path / "prometheus" / "targets").iterdir())


def test_build_info_names_version_commit_and_service(monkeypatch):
    monkeypatch.setenv("COINLOG_BUILD_COMMIT", "abc123")
    metrics.build_commit.cache_clear()
    try:
        metrics.announce_build("payout")
        assert sample("coinlog_build_info", version=metrics.package_version(),
                      commit="abc123", service="payout") == 1
    finally:
        metrics.build_commit.cache_clear()
