"""The wallet's decided requests, lots and funded gifts as rows apart, on PostgreSQL: a snapshot
saved with all of them in it (before they had rows) is copied into the rows by the migration,
and the handler then decides as on the whole wallet; the look-ups are index scans."""

from __future__ import annotations

import asyncpg
import orjson
from pydantic import TypeAdapter

from services.wallet import handlers, store
from services.wallet.app import definition
from services.wallet.domain import Wallet, decide, fold, without_lookups
from services.wallet.kept_apart import TABLES, changed_rows
from services.wallet.projection import price_row
from shared.contract.codec import encode
from shared.contract.events.wallet import WalletEvent
from shared.runtime.migrate import apply_migrations
from shared.runtime.unit import Unit
from tests.unit.fake_unit import inbound
from tests.unit.test_wallet_lookups import PRICES, STORED_PRICES, USER, History

WHOLE = TypeAdapter(Wallet)


def as_saved_before(wallet: Wallet) -> str:
    """The snapshot JSON the service wrote before the rows apart: lots without funded_apart."""
    state = orjson.loads(WHOLE.dump_json(wallet))
    for lot in state["purchases"]:
        del lot["funded_apart"]
    return orjson.dumps(state).decode()


async def test_an_old_snapshot_is_copied_into_rows_and_decides_as_before(
        db: asyncpg.Connection, schema: str):
    before_rows = [m for m in definition.migrations if m.version < 4]
    await apply_migrations(db, schema, before_rows)
    history = History(5)
    batches = history.batches(600)
    whole = Wallet(USER)
    for batch in batches[:len(batches) // 2]:
        for event in batch:
            if event.key == USER:
                whole = fold(whole, decide(whole, event, prices=PRICES))
    assert whole.requests and any(lot.gifts for lot in whole.purchases)
    await db.execute("INSERT INTO wallets (key, state, version) VALUES ($1, $2::json, 1)",
                     USER, as_saved_before(whole))
    await apply_migrations(db, schema, definition.migrations)
    # The price list History buys at, as the handler would have stored it.
    await store.save_prices(db, [price_row(key, price) for key, price in STORED_PRICES.items()])
    rows = changed_rows([(USER, whole, None)]).by_table()
    assert any(not lot.remaining for lot in whole.purchases)
    for table in TABLES:
        stored = await db.fetch(f"SELECT {', '.join(table.column_names)} FROM {table.name}")
        assert sorted(tuple(row) for row in stored) == sorted(rows[table.name]), table.name

    clawbacks = 0
    for batch in batches[len(batches) // 2:]:
        mine = [event for event in batch if event.key == USER]
        expected: list[WalletEvent] = []
        for event in mine:
            decided = decide(whole, event, prices=PRICES)
            whole = fold(whole, decided)
            expected.extend(decided)
        unit = Unit(db)
        async with db.transaction():
            await handlers.handle(unit, [inbound(event) for event in mine])
        assert [value for _, value in unit.events] == [encode(event) for event in expected]
        clawbacks += sum(getattr(event, "funded_gifts", ()) != () for event in expected)
    assert clawbacks
    saved = await store.wallets.load(db, USER)
    assert saved == without_lookups(whole)


async def test_the_look_ups_of_rows_apart_are_index_scans(db: asyncpg.Connection, schema: str):
    await apply_migrations(db, schema, definition.migrations)
    await db.execute(
        """INSERT INTO wallet_requests (user_id, request_id)
           SELECT 'u' || (n % 50), 'req-' || n FROM generate_series(1, 50000) AS n""")
    await db.execute(
        """INSERT INTO lot_funded_gifts (user_id, purchase_id, request_id, creator_id, coins,
                                         position_in_lot)
           SELECT 'u' || (n % 50), 'pur-' || (n % 500), 'req-' || n, 'c', 1, n
           FROM generate_series(1, 50000) AS n""")
    await db.execute(
        """INSERT INTO purchase_lots (user_id, purchase_id, coins, amount_minor, currency,
                                      rate_version, acquired_at, used, gifts_funded)
           SELECT 'u' || (n % 50), 'pur-' || n, 100, 100, 'USD', 'v', now(), 100, 10
           FROM generate_series(1, 5000) AS n""")
    await db.execute("ANALYZE")
    lots = store.LOT_SQL.format(table="purchase_lots", id="purchase_id")
    for sql, values in ((store.REQUESTS_SQL, (["u1", "u2"], ["req-1", "req-2"])),
                        (lots, (["u1"], ["pur-1"])),
                        (store.FUNDED_GIFTS_SQL, (["u1"], ["pur-1"]))):
        plan = "\n".join(row[0] for row in await db.fetch(f"EXPLAIN {sql}", *values))
        assert "Index" in plan and "Seq Scan" not in plan, plan
