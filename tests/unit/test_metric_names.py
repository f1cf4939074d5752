"""Every metric the alert rules and the Grafana dashboard query is one the project defines, and
every label they group by is one of its labels (or a scrape target's), so a renamed metric or
label fails here, not on a silent dashboard at night."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

import shared.runtime.metrics  # noqa: F401 - registers the runtime's metrics
from shared.sealing.metrics import SealerMetrics

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "coinlog.json"

TARGET_LABELS = {"instance", "job", "service", "coinlog_instance"}
"""Labels Prometheus adds from the scrape target (deploy/prometheus, deploy/local/prometheus)."""
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "info": ("_info",),
            "histogram": ("_bucket", "_sum", "_count")}
NAME = re.compile(r"\b(coinlog_[a-z0-9_]+|up)\b")
GROUPING = re.compile(r"\b(?:by|on|without|ignoring)\s*\(([^)]*)\)")


def _runtime_series() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for collector in list(REGISTRY._collector_to_names):  # noqa: SLF001 - no public listing
        if not isinstance(collector, MetricWrapperBase):
            continue
        labels = set(collector._labelnames)  # noqa: SLF001
        for family in collector.describe():
            for suffix in SUFFIXES[family.type]:
                found[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return found


def _sealer_series() -> dict[str, set[str]]:
    sealer = SimpleNamespace(seals_published=3, records_chained=9,
                             sealed_through=lambda topic, partition: 1)
    collector = SealerMetrics(sealer)  # type: ignore[arg-type]
    collector.note_ends({("wallet.ledger", 0): 5})
    return {sample.name: set(sample.labels) for family in collector.collect()
            for sample in family.samples if not sample.name.endswith("_created")}


@pytest.fixture(scope="module")
def defined() -> dict[str, set[str]]:
    return {**_runtime_series(), **_sealer_series(), "up": set()}


def _alert_expressions() -> list[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def _check(expressions: list[str], defined: dict[str, set[str]]) -> None:
    assert expressions
    for expression in expressions:
        names = set(NAME.findall(expression))
        assert names, f"no metric in {expression!r}"
        unknown = names - set(defined)
        assert not unknown, f"{expression!r} queries metrics no code defines: {unknown}"
        labels = set().union(*(defined[name] for name in names)) | TARGET_LABELS
        for group in GROUPING.findall(expression):
            grouped = {label.strip() for label in group.split(",") if label.strip()}
            assert grouped <= labels, f"{expression!r} groups by unknown labels {grouped - labels}"


def test_the_alert_rules_query_defined_metrics(defined):
    _check(_alert_expressions(), defined)


def test_the_dashboard_queries_defined_metrics(defined):
    _check(_dashboard_expressions(), defined)


def test_the_check_would_catch_a_misspelt_metric_or_label(defined):
    with pytest.raises(AssertionError, match="no code defines"):
        _check(["rate(coinlog_events_aplied_total[1m])"], defined)
    with pytest.raises(AssertionError, match="unknown labels"):
        _check(["sum by (why) (rate(coinlog_batch_retries_total[1m]))"], defined)


def test_names_carry_the_prefix_and_a_unit(defined):
    for name in defined:
        if name == "up":
            continue
        assert name.startswith("coinlog_")
        assert re.search(r"_(total|seconds|records|offset|leader|info|bucket|sum|count)$", name), (
            f"{name} names no unit")


def test_every_dashboard_panel_reads_the_provisioned_datasource():
    datasource = yaml.safe_load((ROOT / "deploy" / "grafana" / "provisioning" / "datasources"
                                 / "prometheus.yml").read_text())["datasources"][0]
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"], panel["title"]
