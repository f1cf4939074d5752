"""Each service's HTTP app: its query routes, liveness, readiness and metrics, named operations,
and a 503 while the database does not answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol, cast

import asyncpg
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from shared.runtime.auth import TokenVerifier
from shared.runtime.health import Check, verdict
from shared.runtime.http_metrics import HttpMetrics
from shared.runtime.processor import CONNECTION_ERRORS

if TYPE_CHECKING:
    from shared.runtime.service import ServiceDefinition


class Serving(Protocol):
    """What readiness and liveness ask of the process behind the app."""

    async def readiness(self) -> list[Check]: ...

    async def liveness(self) -> list[Check]: ...


class Health(BaseModel):
    status: Literal["ok"]


class CheckResult(BaseModel):
    """One thing readiness or liveness looked at."""

    name: str
    """`started`, `database`, `kafka`, `consumer <name>`, `policy`."""
    ok: bool
    detail: str
    """What was found, or what is missing and how to fix it."""


def _results(checks: list[Check]) -> list[CheckResult]:
    return [CheckResult(name=check.name, ok=check.ok, detail=check.detail) for check in checks]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: list[CheckResult]
    """Every check, passed or not: the database answers, Kafka answers, every consumer holds
    its partitions at its tracking offsets, the policy is known."""


class Liveness(BaseModel):
    status: Literal["alive", "stuck"]
    checks: list[CheckResult]
    """Per consumer: its loop runs, and it polled or ended a batch recently while work
    waited."""


class YamlResponse(Response):
    media_type = "application/yaml"


class PrometheusResponse(Response):
    media_type = CONTENT_TYPE_LATEST


def operation_id(route: APIRoute) -> str:
    """`get_wallet_history` -> `getWalletHistory`: the route's function names its operation."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def service_app(definition: ServiceDefinition, pool: asyncpg.Pool | None,
                process: Serving | None, verifier: TokenVerifier | None = None) -> FastAPI:
    """The app a service serves (pool and process None: only to describe it, for the
    OpenAPI document). Without a verifier every query route answers 401."""
    app = FastAPI(title=f"coinlog {definition.name}", version="1",
                  generate_unique_id_function=operation_id)
    app.state.token_verifier = verifier
    app.add_middleware(HttpMetrics)
    for error in CONNECTION_ERRORS:
        app.add_exception_handler(cast(type[Exception], error), _database_unavailable)
    app.include_router(health_routes(process))
    for router in definition.routes(pool):  # None: only the document
        app.include_router(router)
    return app


async def _database_unavailable(request: Request, error: Exception) -> Response:
    if isinstance(error, asyncpg.DataError):
        # An argument PostgreSQL cannot take is a bug of the route, not an outage.
        raise error
    return JSONResponse({"detail": f"the database does not answer ({type(error).__name__}); "
                                   "try again shortly"}, status_code=503,
                        headers={"Retry-After": "1"})


def health_routes(process: Serving | None) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def get_health() -> Health:
        return Health(status="ok")

    @router.get("/livez", summary="No consumer is stuck",
                responses={503: {"model": Liveness, "description": "A consumer is stuck or its "
                                                                   "loop has ended: restart"}})
    async def get_liveness(response: Response) -> Liveness:
        checks = await process.liveness() if process is not None else []
        alive = verdict(checks)
        response.status_code = 200 if alive else 503
        return Liveness(status="alive" if alive else "stuck", checks=_results(checks))

    @router.get("/readyz", summary="Connected to PostgreSQL and Kafka, caught up, policy known",
                responses={503: {"model": Readiness, "description": "Not ready (yet): the "
                                                                    "failed checks say why"}})
    async def get_readiness(response: Response) -> Readiness:
        checks = (await process.readiness() if process is not None
                  else [Check("started", False, "no process behind this app")])
        ready = verdict(checks)
        response.status_code = 200 if ready else 503
        return Readiness(status="ready" if ready else "not ready", checks=_results(checks))

    @router.get("/asyncapi.yaml", summary="The event contract (AsyncAPI 3.0)",
                response_class=YamlResponse, responses={200: {"content": {"application/yaml": {
                    "schema": {"type": "object", "description": "An AsyncAPI 3.0 document"}}}}})
    async def get_async_api() -> Response:
        from shared.contract.asyncapi import document

        return YamlResponse(document())

    @router.get("/metrics", summary="Prometheus metrics", response_class=PrometheusResponse)
    async def get_metrics() -> Response:
        return PrometheusResponse(generate_latest())

    return router

