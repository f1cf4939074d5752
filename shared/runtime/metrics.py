"""Prometheus metrics of the runtime. Labels stay low-cardinality: consumer and reason only."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_APPLIED = Counter(
    "coinlog_events_applied_total", "Events applied by a consumer's handler", ["consumer"]
)
EVENTS_SKIPPED = Counter(
    "coinlog_events_skipped_total",
    "Records not applied again: redelivered offsets or producer duplicates",
    ["consumer", "why"],
)
DEAD_LETTERS = Counter(
    "coinlog_dead_letters_total", "Records sent to the dead-letter topic", ["consumer", "reason"]
)
BATCH_SECONDS = Histogram(
    "coinlog_batch_seconds", "Time to apply one batch in one transaction", ["consumer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_RETRIES = Counter(
    "coinlog_batch_retries_total", "Batches retried after an outage or a handler error",
    ["consumer", "why"],
)
CONSUMER_LAG = Gauge(
    "coinlog_consumer_lag_records", "Records between a consumer's position and the log end",
    ["consumer", "topic", "partition"],
)
OUTBOX_PUBLISHED = Counter(
    "coinlog_outbox_published_total", "Outbox events acknowledged by Kafka", ["schema"]
)
