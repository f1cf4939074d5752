"""Repeated warnings during an outage: the first passes, repeats wait for a reminder."""

from __future__ import annotations

import logging

from shared.runtime.logs import QuietRepeats


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(message: str, *args: object, level: int = logging.WARNING,
           name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args, None)


def test_a_repeated_warning_passes_once_then_once_per_interval_with_the_count():
    clock = Clock()
    quiet = QuietRepeats(every_s=30, clock=clock)
    passed = []
    for second in range(0, 65):
        clock.now = float(second)
        for attempt in range(10):
            item = record("Unable connect to node with id %s: %s", 1, f"attempt {attempt}")
            if quiet.filter(item):
                passed.append((second, item.getMessage()))
    assert [second for second, _ in passed] == [0, 30, 60]
    assert passed[0][1] == "Unable connect to node with id 1: attempt 0"
    assert passed[1][1].endswith("[and 299 more like this in the last 30 s]")
    assert passed[2][1].endswith("[and 299 more like this in the last 30 s]")


def test_other_kinds_and_lower_levels_are_not_held_back():
    clock = Clock()
    quiet = QuietRepeats(every_s=30, clock=clock)
    assert quiet.filter(record("batch retried after %r", "a"))
    assert not quiet.filter(record("batch retried after %r", "b"))
    assert quiet.filter(record("batch applied after %d failed attempts", 3))
    assert quiet.filter(record("batch retried after %r", "a", name="wallet"))
    assert quiet.filter(record("batch retried after %r", "a", level=logging.ERROR))
    assert all(quiet.filter(record("assigned %s", n, level=logging.INFO)) for n in range(5))


def test_a_repeat_after_a_quiet_interval_passes_without_a_count():
    clock = Clock()
    quiet = QuietRepeats(every_s=30, clock=clock)
    assert quiet.filter(record("relay %s reconnecting", "x"))
    clock.now = 100.0
    item = record("relay %s reconnecting", "x")
    assert quiet.filter(item)
    assert item.getMessage() == "relay x reconnecting"


def _json_line(formatter, item: logging.LogRecord) -> dict:
    import orjson

    line = formatter.format(item)
    assert "\n" not in line
    return orjson.loads(line)


def test_a_json_line_has_the_record_and_the_service():
    from shared.runtime.logs import JsonLines

    entry = _json_line(JsonLines("wallet"), record("applied %d events", 3, level=logging.INFO,
                                                   name="shared.runtime"))
    assert entry["timestamp"].endswith("Z")
    assert {k: entry[k] for k in ("level", "logger", "message", "service")} == {
        "level": "INFO", "logger": "shared.runtime", "message": "applied 3 events",
        "service": "wallet"}
    assert not {"trace_id", "span_id", "event_id", "correlation_id"} & set(entry)


def test_a_json_line_names_the_span_and_the_event_being_handled():
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    from shared.runtime.logs import JsonLines, handling

    span = NonRecordingSpan(SpanContext(trace_id=0x1234, span_id=0x56, is_remote=False,
                                        trace_flags=TraceFlags(1)))
    with trace.use_span(span), handling("event-1", None):
        entry = _json_line(JsonLines("payout"), record("retrying", level=logging.WARNING))
    assert entry["trace_id"] == f"{0x1234:032x}" and entry["span_id"] == f"{0x56:016x}"
    # An event that starts its chain correlates with itself.
    assert (entry["event_id"], entry["correlation_id"]) == ("event-1", "event-1")
    after = _json_line(JsonLines("payout"), record("idle", level=logging.INFO))
    assert "event_id" not in after


def test_handling_takes_the_span_of_the_events_trace_headers():
    from shared.runtime.logs import JsonLines, handling

    traceparent = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with handling("event-2", "chain-1", (("traceparent", traceparent),)):
        entry = _json_line(JsonLines("gifting"), record("declined", level=logging.INFO))
    assert (entry["trace_id"], entry["span_id"]) == ("0af7651916cd43dd8448eb211c80319c",
                                                     "b7ad6b7169203331")
    assert entry["correlation_id"] == "chain-1"


def test_an_exception_stays_on_its_line():
    from shared.runtime.logs import JsonLines

    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        item = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = _json_line(JsonLines("wallet"), item)
    assert "ValueError: boom" in entry["exception"]


def test_the_setting_chooses_json_or_plain_lines():
    from shared.runtime.logs import JsonLines, formatter
    from shared.settings import Settings

    assert Settings().log_format == "json"
    assert Settings(COINLOG_LOG_FORMAT="plain").log_format == "plain"
    assert isinstance(formatter("json", "wallet"), JsonLines)
    plain = formatter("plain", "wallet").format(record("hello", level=logging.INFO, name="n"))
    assert plain.endswith("INFO n: hello")
