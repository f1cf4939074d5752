"""`coinlog replay wallet --swap` run by an operator role on a schema that a service role owns
(as in docker-compose, where each service has a login role of its own and owns its schema):
after the swap the service's role owns the swapped-in schema and everything in it, and can do
what the service does there, while the rebuild, made by the operator, was not the service's."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from ops.replay.rebuild import connect
from ops.replay.swap import swap
from services.registry import service
from services.wallet.domain import PackagePrice, PriceList, Wallet, balance, decide, fold
from services.wallet.store import save_balances, wallets
from shared import kafka_client
from shared.contract.codec import encode
from shared.contract.events.payments import PurchaseCompleted
from shared.contract.events.wallet import WalletEvent
from shared.contract.topics import POLICY_CHANGES, WALLET_LEDGER
from shared.runtime import history
from shared.runtime.kafka_admin import ensure_topics
from shared.runtime.lease import Lease
from shared.runtime.locks import lock_entities
from shared.runtime.migrate import apply_migrations
from tests.infrastructure import Endpoints
from tests.integration.events import publish, purchase

pytestmark = pytest.mark.integration

RUNTIME_TABLES = {"tracking", "inbox", "outbox", "entity_locks", "relay_lease"}
"""Moved from the live schema into the swapped-in one."""
WALLET_TABLES = {"wallets", "wallet_requests", "purchase_lots", "promo_lots",
                 "lot_funded_gifts", "wallet_balances", "spending_policy",
                 "coin_package_prices", "event_history", "schema_migrations", *RUNTIME_TABLES}
SEQUENCES = {"event_history_seq_seq", "outbox_id_seq"}


@dataclass(frozen=True)
class ServiceRole:
    name: str
    database_url: str


def _as_role(database_url: str, role: str, password: str) -> str:
    url = urlsplit(database_url)
    port = f":{url.port}" if url.port else ""
    return urlunsplit(url._replace(netloc=f"{role}:{password}@{url.hostname}{port}"))


@pytest.fixture
async def service_role(infra: Endpoints, suffix: str) -> AsyncIterator[ServiceRole]:
    """A login role like compose's wallet role: not a superuser, CONNECT, TEMPORARY and CREATE
    on the database (deploy/compose/postgres-init.sh), nothing else."""
    name = f"swap_owner_{suffix}"
    password = uuid.uuid4().hex  # hex only: safe inside the SQL literal
    admin = await asyncpg.connect(infra.database_url)
    try:
        database = await admin.fetchval("SELECT current_database()")
        await admin.execute(f"CREATE ROLE \"{name}\" LOGIN NOSUPERUSER PASSWORD '{password}'")
        try:
            await admin.execute(
                f'GRANT CONNECT, TEMPORARY, CREATE ON DATABASE "{database}" TO "{name}"')
            yield ServiceRole(name, _as_role(infra.database_url, name, password))
        finally:
            # CASCADE: whatever a failed swap left of the operator's inside the role's schemas.
            await admin.execute(f'DROP OWNED BY "{name}" CASCADE')
            await admin.execute(f'DROP ROLE "{name}"')
    finally:
        await admin.close()


@pytest.fixture
async def live_schema(infra: Endpoints, suffix: str) -> AsyncIterator[str]:
    name = f"swap_own_{suffix}"
    yield name
    # The live schema, the replaced one and a rebuild kept after a refusal.
    admin = await asyncpg.connect(infra.database_url)
    try:
        for row in await admin.fetch("SELECT nspname FROM pg_namespace"
                                     " WHERE nspname = $1 OR nspname LIKE $2",
                                     name, f"{name}\\_%"):
            await admin.execute(f'DROP SCHEMA IF EXISTS "{row["nspname"]}" CASCADE')
    finally:
        await admin.close()


@pytest.fixture
async def prefix(infra: Endpoints, suffix: str) -> AsyncIterator[str]:
    """Topics of this test only; deleted afterwards."""
    used = f"swapown-{suffix}."
    await ensure_topics(infra.kafka_bootstrap_servers, [WALLET_LEDGER, POLICY_CHANGES],
                        prefix=used)
    yield used
    admin = kafka_client.admin(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if name.startswith(used)]
        if names:
            with contextlib.suppress(Exception):
                await admin.delete_topics(names)
    finally:
        await admin.close()


PRICES = PriceList.of(
    (("packs-2026-01", f"pack-{coins}", "app_ios", "US"), PackagePrice(coins, 99, "USD"))
    for coins in (40, 60, 100, 250))
"""The packs these tests buy, as a published price list would price them."""


def bought(user: str, coins: int) -> PurchaseCompleted:
    return purchase(user, coins, package_id=f"pack-{coins}")


def decided_purchases(user: str, coins: list[int]) -> tuple[Wallet, list[WalletEvent]]:
    """The wallet's own decisions on a few purchases: a ledger that replays (balance_after
    is re-checked by the fold)."""
    wallet, decided = Wallet(user), []
    for amount in coins:
        events = decide(wallet, bought(user, amount), prices=PRICES)
        wallet = fold(wallet, events)
        decided.extend(events)
    return wallet, decided


async def owners(conn: asyncpg.Connection, schema: str) -> dict[str, tuple[str, str]]:
    """name -> (relkind, owner) of every relation in `schema`: tables, indexes, sequences."""
    return {row["relname"]: (row["relkind"], row["owner"]) for row in await conn.fetch(
        "SELECT c.relname, c.relkind::text AS relkind, c.relowner::regrole::text AS owner"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1", schema)}


async def schema_owner(conn: asyncpg.Connection, schema: str) -> str | None:
    return await conn.fetchval(
        "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", schema)


async def test_swap_by_an_operator_leaves_the_schema_to_the_service_role(
        infra: Endpoints, service_role: ServiceRole, live_schema: str, prefix: str,
        producer, suffix: str):
    role = service_role.name
    buyer, other = f"buyer-{suffix}", f"other-{suffix}"
    buyer_wallet, buyer_events = decided_purchases(buyer, [100, 250])
    other_wallet, other_events = decided_purchases(other, [40])

    # The service's side: its role migrates its own schema, as the service does on start, and
    # its relay takes the lease.
    lease = Lease("wallet-relay")
    as_service = await connect(service_role.database_url, live_schema)
    try:
        await apply_migrations(as_service, live_schema, service("wallet").all_migrations)
        assert await lease.try_take(as_service)
        epoch = lease.epoch
    finally:
        await as_service.close()
    # Nothing on the input topics and no tracking rows: the rebuild is the ledger's fold.
    await publish(producer, prefix + WALLET_LEDGER.name, [*buyer_events, *other_events])

    admin = await asyncpg.connect(infra.database_url)
    try:
        operator = await admin.fetchval("SELECT current_user")
        assert operator != role
        assert await schema_owner(admin, live_schema) == role
        rebuilt = f"{live_schema}_rebuild_1"
        seen_before_switch: dict[str, object] = {}

        async def check_the_rebuild_is_the_operators() -> None:
            # What _hand_over has to fix: made by the operator, the service could not use it.
            seen_before_switch["owner"] = await schema_owner(admin, rebuilt)
            probe = await asyncpg.connect(service_role.database_url)
            try:
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await probe.fetch(f'SELECT * FROM "{rebuilt}".wallet_balances')
                seen_before_switch["denied"] = True
            finally:
                await probe.close()

        result = await swap("wallet", live_schema, prefix, require_equal=False,
                            database_url=infra.database_url,
                            bootstrap_servers=infra.kafka_bootstrap_servers,
                            on_rebuilt=check_the_rebuild_is_the_operators)

        assert seen_before_switch == {"owner": operator, "denied": True}
        assert result.replaced_schema == f"{live_schema}_replaced_1"
        assert result.rebuilt_records == len(buyer_events) + len(other_events)
        assert await schema_owner(admin, live_schema) == role
        assert await schema_owner(admin, result.replaced_schema) == role
        relations = await owners(admin, live_schema)
        tables = {name for name, (kind, _) in relations.items() if kind == "r"}
        sequences = {name for name, (kind, _) in relations.items() if kind == "S"}
        assert tables == WALLET_TABLES
        assert sequences == SEQUENCES
        assert {name: owner for name, (_, owner) in relations.items() if owner != role} == {}
        # The runtime tables moved over; the replaced schema keeps only the read tables.
        assert RUNTIME_TABLES.isdisjoint(await owners(admin, result.replaced_schema))
    finally:
        await admin.close()

    # The service's side again, in the swapped-in schema: start (migrations), then one batch's
    # writes as the consumer, the history and the relay make them.
    as_service = await connect(service_role.database_url, live_schema)
    try:
        migrations = service("wallet").all_migrations
        assert await apply_migrations(as_service, live_schema, migrations) == []
        # The lease moved with the runtime tables: the relay leads on at its epoch.
        assert await lease.try_take(as_service) and lease.epoch == epoch
        balances = {row["user_id"]: row["balance"] for row in await as_service.fetch(
            "SELECT user_id, balance FROM wallet_balances")}
        assert balances == {buyer: balance(buyer_wallet), other: balance(other_wallet)}
        assert balances == {buyer: 350, other: 40}
        last_seq = await as_service.fetchval("SELECT max(seq) FROM event_history")

        more = bought(buyer, 60)
        async with as_service.transaction():
            await as_service.execute(
                "INSERT INTO tracking (consumer, topic, partition, next_offset)"
                " VALUES ('wallet', $1, 0, 0)", prefix + "payments.purchases")
            await as_service.execute(
                "UPDATE tracking SET next_offset = 1 WHERE consumer = 'wallet'")
            await as_service.execute(
                'INSERT INTO inbox (consumer, event_id, content_sha256, topic, partition,'
                ' "offset") VALUES (\'wallet\', $1, $2, $3, 0, 0)',
                more.event_id, b"\x00" * 32, prefix + "payments.purchases")
            await lock_entities(as_service, [buyer])
            loaded = (await wallets.load_many(as_service, [buyer]))[buyer]
            assert balance(loaded) == 350
            decided = decide(loaded, more, prices=PRICES)
            after = fold(loaded, decided)
            await wallets.save(as_service, {buyer: after})
            await save_balances(as_service, {buyer: after}, {buyer: more.occurred_at}, None)
            await history.record(as_service, [(event, encode(event)) for event in decided])
            outbox_ids = [await as_service.fetchval(
                "INSERT INTO outbox (event_id, topic, key, value) VALUES ($1, $2, $3, $4)"
                " RETURNING id", event.event_id, prefix + WALLET_LEDGER.name,
                event.key.encode(), encode(event)) for event in decided]
        await as_service.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", outbox_ids)
        await as_service.execute("DELETE FROM tracking WHERE consumer = 'wallet'")

        assert await as_service.fetchval(
            "SELECT balance FROM wallet_balances WHERE user_id = $1", buyer) == 410
        # The sequence the role now owns goes on after the rebuilt rows.
        assert await as_service.fetchval(
            "SELECT min(seq) FROM event_history WHERE event_id = ANY($1::uuid[])",
            [event.event_id for event in decided]) > last_seq
        assert await as_service.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await as_service.close()
