"""Evolving stored events: consumers upcast on read, producers write only the latest version.

An upcaster turns the JSON object of one schema version into the next. Registering one for
(type, N) means version N+1 exists; chains run until the model's current version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    def register(function: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS:
            raise ValueError(f"two upcasters for {event_type} v{from_version}")
        _UPCASTERS[key] = function
        return function

    return register


def upcast(payload: Payload, current_version: int) -> Payload:
    """Raise ValueError when the version is unknown or no path leads to the current one."""
    event_type = payload.get("type")
    version = payload.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError("schema_version must be an integer")
    if version > current_version:
        raise ValueError(f"schema_version {version} is newer than this reader's {current_version}")
    while version < current_version:
        step = _UPCASTERS.get((str(event_type), version))
        if step is None:
            raise ValueError(f"no upcaster for {event_type} v{version}")
        payload = {**step(payload), "schema_version": version + 1}
        version += 1
    return payload
