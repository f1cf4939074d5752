"""Ctrl-C during a demo: the first one asks the run to stop at its next step, so the services
are always stopped in order; a second one interrupts at once, as usual."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator


class Interrupted(Exception):
    pass


class Interruption:
    def __init__(self, on_first: Callable[[], None] = lambda: None):
        self.requested = asyncio.Event()
        self._on_first = on_first

    def checkpoint(self, *_: object) -> None:
        """Raise Interrupted once Ctrl-C was pressed; every wait and the gift loop call it."""
        if self.requested.is_set():
            raise Interrupted

    @contextlib.contextmanager
    def handling_ctrl_c(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()

        def first_ctrl_c() -> None:
            self.requested.set()
            loop.remove_signal_handler(signal.SIGINT)  # the next one is KeyboardInterrupt
            self._on_first()

        try:
            loop.add_signal_handler(signal.SIGINT, first_ctrl_c)
        except (NotImplementedError, RuntimeError, ValueError):
            yield  # not the main thread: Ctrl-C is not ours to handle
            return
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGINT)
