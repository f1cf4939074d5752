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
