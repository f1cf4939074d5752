"""The services' HTTP contract without a database: time parameters, the documents' shapes,
the 503 of an outage and the 422 of a period that ends before it starts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from pydantic import TypeAdapter, ValidationError

from ops.openapi import document
from services.gifting.responses import GiftStatus
from services.payout.responses import PayoutStatus
from services.registry import SERVICES, service
from shared.runtime.api import EARLIEST, LATEST, Moment
from shared.runtime.health import Check, database_check
from shared.runtime.http import service_app
from tests.tokens import ops_headers, verifier

ROOT = Path(__file__).resolve().parents[2]
MOMENT = TypeAdapter(Moment)
DOCUMENTS = {definition.name: orjson.loads(document(definition)) for definition in SERVICES}


@pytest.mark.parametrize("text, expected", [
    ("2026-03-01T12:00:00Z", datetime(2026, 3, 1, 12, tzinfo=UTC)),
    ("2026-03-01T13:30:00+01:30", datetime(2026, 3, 1, 12, tzinfo=UTC)),
    ("2026-03-01T12:00:00.250000z", datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)),
    ("2026-03-01 12:00", datetime(2026, 3, 1, 12, tzinfo=UTC)),   # no offset: UTC
    ("9999-12-31T23:59:59-23:59", LATEST),       # past year 9999 in UTC: after anything
    ("0001-01-01T00:00:00+23:59", EARLIEST),
])
def test_a_moment_is_an_iso_8601_date_time_read_in_utc(text, expected):
    assert MOMENT.validate_python(text) == expected


@pytest.mark.parametrize("text", ["0.5", "1700000000", "2026-03-01", "2026-03-01T12",
                                  "20260301T120000Z", "yesterday", ""])
def test_a_moment_is_never_a_number_nor_a_bare_date(text):
    with pytest.raises(ValidationError, match="ISO 8601"):
        MOMENT.validate_python(text)


def _operations(name: str):
    for path, methods in DOCUMENTS[name]["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_operations_have_readable_unique_ids():
    for name in DOCUMENTS:
        ids = [operation["operationId"] for _, _, operation in _operations(name)]
        assert len(ids) == len(set(ids)), ids
        assert all(re.fullmatch(r"get[A-Z][A-Za-z]+", found) for found in ids), ids
    assert {"getWallet", "getWalletHistory", "getWalletAsOf"} <= {
        operation["operationId"] for _, _, operation in _operations("wallet")}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_body_is_described_and_money_is_never_a_float(name):
    text = orjson.dumps(DOCUMENTS[name]).decode()
    assert '"additionalProperties":true' not in text
    assert '"type":"number"' not in text
    for path, _, operation in _operations(name):
        assert "$ref" in orjson.dumps(operation["responses"]["200"]).decode() or path in (
            "/asyncapi.yaml", "/metrics"), path
        if "{" in path:
            assert {"404", "422", "503"} <= set(operation["responses"]), path


@pytest.mark.parametrize("name, enum, migration", [
    ("PayoutStatus", PayoutStatus, "services/payout/migrations/0001_payout.sql"),
    ("GiftStatus", GiftStatus, "services/gifting/migrations/0001_gifting.sql"),
])
def test_statuses_are_the_enums_the_tables_allow(name, enum, migration):
    allowed = re.search(r"status\s+text\s+NOT NULL CHECK \(status IN \(([^)]*)\)\)",
                        (ROOT / migration).read_text()).group(1)
    assert {value.strip(" '") for value in allowed.split(",")} == {e.value for e in enum}
    schemas = {**DOCUMENTS["payout"]["components"]["schemas"],
               **DOCUMENTS["gifting"]["components"]["schemas"]}
    assert set(schemas[name]["enum"]) == {e.value for e in enum}


class _Unreachable:
    """A pool whose database does not answer."""

    async def fetchrow(self, *args, **kwargs):
        raise ConnectionRefusedError("connection refused")

    fetch = fetchval = fetchrow

    def acquire(self):
        raise ConnectionRefusedError("connection refused")


class _Process:
    pool = _Unreachable()

    async def readiness(self):
        return [Check("started", True, "running"), await database_check(self.pool)]  # type: ignore[arg-type]

    async def liveness(self):
        return []


async def _get(service_name: str, path: str) -> httpx.Response:
    process = _Process()
    app = service_app(service(service_name), process.pool, process,  # type: ignore[arg-type]
                      verifier())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test", headers=ops_headers()) as client:
        return await client.get(path)


@pytest.mark.parametrize("service_name, path", [
    ("wallet", "/wallets/someone"), ("wallet", "/wallets/someone/history"),
    ("gifting", "/catalog"), ("payout", "/creators/someone/statement"),
])
async def test_a_database_outage_is_a_503_with_its_documented_body(service_name, path):
    response = await _get(service_name, path)
    assert response.status_code == 503
    assert set(response.json()) == {"detail"}
    assert response.headers["retry-after"] == "1"


async def test_readiness_is_a_503_while_the_database_does_not_answer():
    response = await _get("wallet", "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert [(check["name"], check["ok"]) for check in body["checks"]] == [
        ("started", True), ("database", False)]
    assert "PostgreSQL does not answer" in body["checks"][1]["detail"]


async def test_a_period_that_ends_before_it_starts_is_a_validation_error():
    response = await _get("payout", "/creators/someone/statement"
                                    "?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z")
    assert response.status_code == 422
    assert response.json() == {"detail": [{
        "type": "value_error", "loc": ["query", "from"],
        "msg": "`from` must not be after `to`", "input": "2026-02-01T00:00:00+00:00"}]}
