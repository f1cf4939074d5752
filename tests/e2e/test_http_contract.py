"""Each service's OpenAPI document against the service itself: schemathesis generates requests
from the document (valid ones and invalid ones), sends them to the service's app in-process on
a real PostgreSQL pool (the schemas the e2e services filled), and checks every answer: no 5xx,
only documented status codes, content types and bodies, valid requests accepted and invalid
ones refused. Path ids are drawn from the generated ones and from ids the services know, so
the 200 answers are checked as well as the 404s.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from schemathesis.python import asgi

from services.registry import service
from shared import kafka_client
from shared.runtime import db
from shared.runtime.api import Moment
from shared.runtime.health import Check, database_check
from shared.runtime.http import service_app
from tests.e2e.test_economy import a_live_stream, an_adult_with_coins, balance, gift_status
from tests.e2e.world import World
from tests.infrastructure import Endpoints
from tests.tokens import ops_headers, verifier

pytestmark = pytest.mark.integration

CONFIG = schemathesis.Config.from_dict({
    "seed": 20260301,
    "generation": {"max-examples": 25, "database": "none"},
})
"""A fixed seed and no example database: every run sends the same requests."""

ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi"
KNOWN: dict[str, list[str]] = {}
"""Ids the services know, by path parameter: filled once the small economy has settled."""


class ServedOnItsOwnPool:
    """A service's app whose pool is opened by the app's lifespan, in the event loop that
    serves it (schemathesis runs ASGI apps in a thread of its own)."""

    def __init__(self, name: str):
        self.name = name
        self.database_url = self.schema = ""
        """Set by the `apps` fixture, before the first request starts the lifespan."""
        self.app: Any = None
        self.pool: Any = None

    async def readiness(self) -> list[Check]:
        return [await database_check(self.pool)]

    async def liveness(self) -> list[Check]:
        return []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = await db.create_pool(self.database_url, self.schema)
                self.app = service_app(service(self.name), self.pool, self, verifier())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


@pytest.fixture(scope="module")
async def known(infra: Endpoints, economy) -> AsyncIterator[dict[str, list[str]]]:
    producer = kafka_client.producer(bootstrap_servers=infra.kafka_bootstrap_servers,
                                     enable_idempotence=True)
    await producer.start()
    try:
        KNOWN.update(await _a_small_economy(
            World(producer, uuid.uuid4().hex[:8], economy.topic_prefix), economy))
        yield KNOWN
    finally:
        await producer.stop()


async def _a_small_economy(world: World, economy) -> dict[str, list[str]]:
    """The ids of a creator and a viewer with a sent, a failed and a rejected gift, and a paid
    and a rejected payout, by the path parameter that names them."""
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    viewer, _ = await an_adult_with_coins(world, economy, 16500)
    await world.publish(world.purchase(viewer, 16500))
    await balance(economy, viewer, 33000)
    world.advance(minutes=1)
    # The second lion finds 3,001 coins left: the wallet refuses it.
    gifts = [world.gift(viewer, stream, "lion"), world.gift(viewer, stream, "no-such-gift"),
             world.gift(viewer, stream, "lion")]
    await world.publish(*gifts)
    for gift in gifts:
        await gift_status(economy, gift)
    world.advance(days=16)
    paid, refused = world.payout_request(creator, 14000), world.payout_request(creator, 10)
    await world.publish(paid, refused)
    await economy.json_when("payout", f"/payouts/{paid.payout_id}",
                            lambda body: body["status"] == "reserved")
    await world.publish(world.payout_succeeded(paid))
    for request, status in ((paid, "paid"), (refused, "rejected")):
        await economy.json_when("payout", f"/payouts/{request.payout_id}",
                                lambda body, status=status: body["status"] == status)
    return {"user_id": [viewer, creator], "creator_id": [creator],
            "stream_id": [stream.stream_id], "request_id": [g.request_id for g in gifts],
            "payout_id": [paid.payout_id, refused.payout_id]}


SERVED = {name: ServedOnItsOwnPool(name) for name in ("wallet", "gifting", "payout")}


def _document(name: str) -> Any:
    schema = schemathesis.openapi.from_path(DOCS / f"{name}.json", config=CONFIG)
    # The app of the document: the probes of checks such as ignored_auth (the same request
    # without its token) go to it too.
    schema.app = SERVED[name]

    @schema.hook
    def flatmap_path_parameters(context, path_parameters: dict[str, Any] | None):
        # Only a valid id is swapped for a known one: an invalid one stays, so a case meant
        # to be refused still is. Known ids come first: Hypothesis favours the first choice.
        generated = path_parameters or {}
        swappable = {name: st.sampled_from(KNOWN[name]) for name, value in generated.items()
                     if name in KNOWN and isinstance(value, str) and ID.match(value)}
        if not swappable:
            return st.just(path_parameters)
        return st.one_of(st.fixed_dictionaries(swappable).map(lambda ids: {**generated, **ids}),
                         st.just(path_parameters))

    @schema.hook
    def filter_query(context, query: dict[str, Any] | None) -> bool:
        # `from` after `to` is a 422 by design (test_economy checks it); the document cannot
        # say so, so such periods are not sent as valid requests.
        period = (query or {}).get("from"), (query or {}).get("to")
        return not all(isinstance(moment, str) for moment in period) or not _after(*period)

    return schema


MOMENT = TypeAdapter(Moment)


def _after(start: str, end: str) -> bool:
    try:
        return MOMENT.validate_python(start) > MOMENT.validate_python(end)
    except ValidationError:
        return False


@pytest.fixture(scope="module")
def apps(infra: Endpoints, economy, known) -> Iterator[dict[str, ServedOnItsOwnPool]]:
    for name, served in SERVED.items():
        served.database_url, served.schema = infra.database_url, economy.processes[name].schema
    yield SERVED
    asgi.shutdown_lifespans()


wallet, gifting, payout = (_document(name) for name in ("wallet", "gifting", "payout"))


@wallet.parametrize()
def test_wallet_api_keeps_its_document(case, apps):
    case.call_and_validate(app=apps["wallet"], headers=ops_headers())


@gifting.parametrize()
def test_gifting_api_keeps_its_document(case, apps):
    case.call_and_validate(app=apps["gifting"], headers=ops_headers())


@payout.parametrize()
def test_payout_api_keeps_its_document(case, apps):
    case.call_and_validate(app=apps["payout"], headers=ops_headers())
