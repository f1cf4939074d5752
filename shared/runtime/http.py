"""Health, readiness and metrics endpoints shared by every service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

if TYPE_CHECKING:
    from shared.runtime.service import ServiceProcess


def health_routes(process: ServiceProcess) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Connected to PostgreSQL and Kafka, consuming")
    async def readyz(response: Response) -> dict[str, object]:
        checks = {"started": process.ready, "database": False}
        if process.pool is not None:
            try:
                checks["database"] = await process.pool.fetchval("SELECT true")
            except Exception:  # noqa: BLE001 - whatever fails, the database is not ready
                checks["database"] = False
        ready = all(checks.values())
        response.status_code = 200 if ready else 503
        return {"status": "ready" if ready else "not ready", "checks": checks}

    @router.get("/asyncapi.yaml", summary="The event contract (AsyncAPI 3.0)")
    async def asyncapi() -> Response:
        from shared.contract.asyncapi import document

        return Response(document(), media_type="application/yaml")

    @router.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
