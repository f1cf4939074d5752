"""Waiting for something the system under test does in its own time: poll a probe at a short
interval until its answer is ready, or fail after a timeout naming what was awaited and the
last answer seen. Tests never sleep for a fixed time instead."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any


class _Polls:
    """The bookkeeping both waits share: how many ready answers in a row, the last answer, and
    the failure once the time is up."""

    def __init__(self, ready: Callable[[Any], object], timeout_s: float, in_a_row: int,
                 describe: str):
        self.ready = ready
        self.timeout_s = timeout_s
        self.in_a_row = in_a_row
        self.describe = describe
        self.deadline = time.monotonic() + timeout_s
        self.streak = 0
        self.last: object = None

    def settled(self, answer: object) -> bool:
        self.last = answer
        self.streak = self.streak + 1 if self.ready(answer) else 0
        return self.streak >= self.in_a_row

    def unsettled(self, error: BaseException) -> None:
        """A probe that raised one of `not_yet`: the thing awaited is not there yet."""
        self.last = error
        self.streak = 0

    def fail_if_late(self) -> None:
        if time.monotonic() > self.deadline:
            raise AssertionError(f"timed out after {self.timeout_s}s waiting for "
                                 f"{self.describe}; last seen: {self.last!r}")


async def wait_until(probe: Callable[[], Any], *, ready: Callable[[Any], object] = bool,
                     timeout_s: float = 60.0, interval_s: float = 0.05, in_a_row: int = 1,
                     describe: str = "the condition",
                     not_yet: tuple[type[BaseException], ...] = ()) -> Any:
    """Call `probe` (a function or a coroutine function) every `interval_s` until `ready` holds
    for its answer `in_a_row` times running, and return that answer. A probe raising one of
    `not_yet` counts as not ready."""
    polls = _Polls(ready, timeout_s, in_a_row, describe)
    while True:
        try:
            answer = probe()
            if inspect.isawaitable(answer):
                answer = await answer
        except not_yet as error:
            polls.unsettled(error)
        else:
            if polls.settled(answer):
                return answer
        polls.fail_if_late()
        await asyncio.sleep(interval_s)


def wait_until_blocking(probe: Callable[[], Any], *, ready: Callable[[Any], object] = bool,
                        timeout_s: float = 60.0, interval_s: float = 0.05, in_a_row: int = 1,
                        describe: str = "the condition",
                        not_yet: tuple[type[BaseException], ...] = ()) -> Any:
    """`wait_until` for code outside an event loop: blocks the calling thread between polls."""
    polls = _Polls(ready, timeout_s, in_a_row, describe)
    while True:
        try:
            answer = probe()
        except not_yet as error:
            polls.unsettled(error)
        else:
            if polls.settled(answer):
                return answer
        polls.fail_if_late()
        time.sleep(interval_s)
