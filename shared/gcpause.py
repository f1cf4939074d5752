"""Long in-memory folds over the log keep millions of objects alive; Python's cyclic garbage
collector would rescan all of them again and again. The folds create no reference cycles
that matter, so collection is paused for their duration."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.unfreeze()
