"""The simulated clock that stamps every event the simulation publishes.

It runs at wall-clock speed from the moment it is created (so gifts a second apart are a
second apart in event time) and can jump ahead: the services judge holds and expiries by event
time only, so "16 days later" is one call to `advance`, not a wait.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class SimulatedClock:
    def __init__(self, start: datetime | None = None):
        self._start = start or datetime.now(UTC)
        self._started = time.monotonic()
        self._skipped = timedelta()

    def now(self) -> datetime:
        return self._start + self._skipped + timedelta(seconds=time.monotonic() - self._started)

    def advance(self, delta: timedelta) -> datetime:
        self._skipped += delta
        return self.now()
