"""Waiting between attempts while a dependency (Kafka, PostgreSQL) is away."""

from __future__ import annotations

import asyncio

FIRST_S = 0.2
MAX_S = 2.0
"""A dependency that is back is found within about this long; a long outage costs one attempt
per process every MAX_S, not a storm."""


class Backoff:
    def __init__(self, first_s: float = FIRST_S, max_s: float = MAX_S):
        self.first_s = first_s
        self.max_s = max_s
        self._next_s = first_s

    async def wait(self) -> None:
        await asyncio.sleep(self._next_s)
        self._next_s = min(self._next_s * 2, self.max_s)

    def reset(self) -> None:
        self._next_s = self.first_s
