"""Process logging: one line per change of state during an outage, not one per retry.

While Kafka or PostgreSQL is down, every client retries every few hundred milliseconds and logs
each attempt (aiokafka's connection errors, our batch retries, the relay reconnecting), so one
outage wrote thousands of identical lines. The filter lets the first line of each kind through,
then holds back its repeats for a while and writes one reminder with their count. The code that
recovers says so in a line of its own ("... applied after N attempts").
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

REMINDER_EVERY_S = 30.0
KINDS_REMEMBERED = 1000
"""Bounded: pre-formatted messages would otherwise make every line a kind of its own."""


class QuietRepeats(logging.Filter):
    """Warnings and errors of the same kind (logger, level, message template) pass once per
    `every_s`; the one after the pause carries how many were held back. Lower levels pass."""

    def __init__(self, every_s: float = REMINDER_EVERY_S,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.every_s = every_s
        self.clock = clock
        self._kinds: OrderedDict[tuple[str, int, str], list[float | int]] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        kind = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        seen = self._kinds.get(kind)
        if seen is None:
            self._kinds[kind] = [now, 0]
            if len(self._kinds) > KINDS_REMEMBERED:
                self._kinds.popitem(last=False)
            return True
        self._kinds.move_to_end(kind)
        shown_at, held_back = seen
        if now - shown_at < self.every_s:
            seen[1] = int(held_back) + 1
            return False
        seen[0], seen[1] = now, 0
        if held_back:
            record.msg = f"{record.msg} [and {held_back} more like this in the last " \
                         f"{now - shown_at:.0f} s]"
        return True


def configure(level: str) -> None:
    """Plain lines on stderr, repeats held back on every handler the process logs through."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet = QuietRepeats()
    for handler in logging.getLogger().handlers:
        handler.addFilter(quiet)
    # FastStream's broker logger writes through a handler of its own and does not propagate;
    # a filter on the logger itself outlives the handler FastStream adds later.
    logging.getLogger(FASTSTREAM_LOGGER).addFilter(quiet)


FASTSTREAM_LOGGER = "faststream.access.kafka"
