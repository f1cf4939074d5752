"""Prometheus metrics of the runtime.

One vocabulary: every name starts with `coinlog_` and ends with its unit (`_seconds`,
`_records`, `_total` for counters); labels are only `consumer`, `topic`, `partition`, `reason`,
`schema`, `stage`, `route`, `method` and `status`, each with a bounded set of values (the
instance is the scrape target's, not a label of ours). deploy/prometheus/alerts.yml and the
Grafana dashboard query these names; tests/unit/test_metric_names.py checks they exist.
"""

from __future__ import annotations

import os
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram, Info

EVENTS_APPLIED = Counter(
    "coinlog_events_applied_total", "Events applied by a consumer's handler", ["consumer"]
)
EVENTS_SKIPPED = Counter(
    "coinlog_events_skipped_total",
    "Records not applied again: redelivered offsets, producer duplicates, gaps",
    ["consumer", "reason"],
)
DEAD_LETTERS = Counter(
    "coinlog_dead_letters_total", "Records sent to the dead-letter topic", ["consumer", "reason"]
)
BATCH_SECONDS = Histogram(
    "coinlog_batch_duration_seconds", "Time to apply one batch in one transaction",
    ["consumer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_RETRIES = Counter(
    "coinlog_batch_retries_total", "Batches retried after an outage or a handler error",
    ["consumer", "reason"],
)
CONSUMER_LAG = Gauge(
    "coinlog_consumer_lag_records",
    "Records between the offsets a consumer recorded in its tracking table and the log end, "
    "refreshed on a timer (so it rises while the consumer stands still)",
    ["consumer", "topic", "partition"],
)
CONSUMER_OFFSET = Gauge(
    "coinlog_consumer_next_offset",
    "The offset of the next record a consumer applies, from its tracking table",
    ["consumer", "topic", "partition"],
)
OUTBOX_PUBLISHED = Counter(
    "coinlog_outbox_published_total", "Outbox events acknowledged by Kafka", ["schema"]
)
OUTBOX_BACKLOG = Gauge(
    "coinlog_outbox_backlog_records", "Events decided and not yet published (outbox rows)",
    ["schema"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "coinlog_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row (0 when the outbox is empty)", ["schema"],
)
RELAY_LEADER = Gauge(
    "coinlog_relay_leader", "1 while this instance's outbox relay leads its schema, else 0",
    ["schema"],
)
BACKLOG_REFRESH_FAILURES = Counter(
    "coinlog_backlog_refresh_failures_total",
    "Timer refreshes of the lag and outbox gauges that failed (the gauges keep their values)",
    ["schema"],
)
GIFT_LATENCY = Histogram(
    "coinlog_gift_latency_seconds",
    "From the gift request's record time (the broker's append time) to a stage of the gift "
    "path decided: outcome (gifting decided sent, rejected or failed), diamonds_earned (payout)",
    ["stage"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
HTTP_REQUESTS = Counter(
    "coinlog_http_requests_total", "HTTP requests answered, by route template and status",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "coinlog_http_request_duration_seconds", "Time to answer an HTTP request, by route template",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BUILD = Info("coinlog_build", "The running build: version, commit (when known), service")


def announce_build(service: str) -> None:
    """Set coinlog_build_info for this process."""
    BUILD.info({"version": package_version(), "commit": build_commit(), "service": service})


def package_version() -> str:
    try:
        return version("coinlog")
    except PackageNotFoundError:
        return "unknown"


@cache
def build_commit() -> str:
    """COINLOG_BUILD_COMMIT (an image sets it at build time), else the checkout's HEAD when the
    code runs from one, else empty."""
    given = os.environ.get("COINLOG_BUILD_COMMIT", "").strip()
    if given:
        return given
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return ""
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
