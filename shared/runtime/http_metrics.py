"""Counts and times every HTTP request by its route's template (`/wallets/{user_id}`, never
the path itself, so the labels stay few) and the status answered."""

from __future__ import annotations

import time
from typing import Any

from shared.runtime import metrics

UNMATCHED = "unmatched"
"""The route label of a request no route matched (a 404 for an unknown path)."""

Scope = dict[str, Any]


class HttpMetrics:
    """Pure ASGI middleware: the router writes the matched route into the request's scope,
    which this reads once the answer is sent."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app starts an answer: an exception that escaped it

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = _template(scope)
            method = scope.get("method", "")
            metrics.HTTP_REQUESTS.labels(route, method, str(status)).inc()
            metrics.HTTP_SECONDS.labels(route, method).observe(time.perf_counter() - started)


def _template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED
