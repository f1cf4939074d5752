"""A heavy gifter's wallet: what one batch costs the wallet handler after many prior gifts.

    python -m bench.heavy_wallet [--gifts 20000] [--gifts-per-lot 100] [--batches 30]

On a fresh schema with the wallet's migrations (dropped at the end), one viewer's history is
built through the handler itself (a purchase lot per `gifts-per-lot` gifts, batches of 500
inputs), so the stored state is what the live service would hold. Then batches of 10 priced
gifts, and batches of one refund of a fully spent old lot (the clawback lists that lot's
funded gifts), are each handled in a transaction of their own and rolled back, so every timed
batch sees the same wallet. Timed: `handlers.handle` alone (the wallet's own loads, decisions
and writes; not the runtime's inbox, outbox and history). Also printed: the wallet's snapshot
row, in bytes of JSON text, and with --explain the plans of the look-ups.

Prints a table and one line `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from services.wallet import handlers
from services.wallet.app import definition
from shared.contract.codec import encode
from shared.contract.envelope import Event
from shared.contract.events.gifting import GiftPriced
from shared.contract.events.payments import Platform, PurchaseCompleted, PurchaseRefunded
from shared.contract.events.policy import CoinPackagePriced
from shared.contract.events.users import AgeVerified
from shared.contract.events.wallet import CoinsClawedBack, CoinsSpent
from shared.contract.topics import topic_of
from shared.runtime.migrate import apply_migrations, quote_schema
from shared.runtime.unit import Inbound, Record, Unit
from shared.settings import Settings

USER = "heavy-gifter"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
GIFT_COINS = 10
SEED_BATCH = 500


def _id(label: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"bench/heavy-wallet/{label}")


def _at(step: int) -> datetime:
    return T0 + timedelta(seconds=step)


def purchase(number: int, coins: int, step: int) -> PurchaseCompleted:
    return PurchaseCompleted(
        event_id=_id(f"purchase/{number}"), occurred_at=_at(step), user_id=USER,
        purchase_id=f"pur-{number}", coins=coins, amount_minor=coins * 10, currency="USD",
        platform=Platform.web, region="US", package_id=f"pack-{coins}",
        rate_version="packs-bench")


def priced(coins: int) -> CoinPackagePriced:
    """The price of the bench's pack of `coins`, which its purchases pay: they are credited."""
    return CoinPackagePriced(
        event_id=_id(f"priced/{coins}"), occurred_at=T0, rate_version="packs-bench",
        package_id=f"pack-{coins}", platform="web", region="US", coins=coins,
        amount_minor=coins * 10, currency="USD")


def gift(number: int, step: int) -> GiftPriced:
    return GiftPriced(
        event_id=_id(f"gift/{number}"), occurred_at=_at(step), request_id=f"req-{number}",
        sender_id=USER, stream_id=f"stream-{number % 7}", creator_id=f"creator-{number % 13}",
        gift_id="rose", quantity=1, unit_coins=GIFT_COINS, coins=GIFT_COINS,
        catalog_version=1, points_multiplier=Decimal(1), points=GIFT_COINS)


def refund(number: int, coins: int, step: int) -> PurchaseRefunded:
    return PurchaseRefunded(
        event_id=_id(f"refund/{number}/{step}"), occurred_at=_at(step), user_id=USER,
        purchase_id=f"pur-{number}", amount_minor=coins * 10, currency="USD")


def history(gifts: int, gifts_per_lot: int) -> list[Event]:
    """The bench's prices and an age check, then per lot: a purchase of exactly its gifts'
    coins, and those gifts; a last, large lot stays open to cover refunds of the spent
    ones."""
    lot_coins = gifts_per_lot * GIFT_COINS
    events: list[Event] = [priced(lot_coins), priced(10**7),
                           AgeVerified(event_id=_id("adult"), occurred_at=T0, user_id=USER,
                                       adult=True)]
    for number in range(gifts):
        if number % gifts_per_lot == 0:
            events.append(purchase(number // gifts_per_lot, lot_coins, len(events)))
        events.append(gift(number, len(events)))
    events.append(purchase(10**6, 10**7, len(events)))
    return events


def inbounds(events: Sequence[Event], first_offset: int) -> list[Inbound]:
    return [Inbound(event, Record(topic_of(event).name, 0, first_offset + i,
                                  event.key.encode(), encode(event)))
            for i, event in enumerate(events)]


async def handled(conn: asyncpg.Connection, events: Sequence[Event], offset: int,
                  keep: bool) -> tuple[float, Unit]:
    """Seconds the handler took over one batch, in a transaction committed only if `keep`,
    and the unit it emitted into."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        started = time.perf_counter()
        unit = Unit(conn)
        await handlers.handle(unit, inbounds(events, offset))
        elapsed = time.perf_counter() - started
    except BaseException:
        await transaction.rollback()
        raise
    if keep:
        await transaction.commit()
    else:
        await transaction.rollback()
    return elapsed, unit


async def run(args: argparse.Namespace) -> dict:
    database_url = Settings().database_url
    schema = f"bench_heavy_wallet_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    try:
        await apply_migrations(admin, schema, definition.migrations)
        conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
        try:
            return await _measure(conn, args)
        finally:
            await conn.close()
    finally:
        await admin.execute(f"DROP SCHEMA {quote_schema(schema)} CASCADE")
        await admin.close()


async def _measure(conn: asyncpg.Connection, args: argparse.Namespace) -> dict:
    seed = history(args.gifts, args.gifts_per_lot)
    started = time.perf_counter()
    for start in range(0, len(seed), SEED_BATCH):
        await handled(conn, seed[start:start + SEED_BATCH], start, keep=True)
    seed_s = time.perf_counter() - started
    # As autovacuum would have, long before a real viewer's 20,000th gift: the timed batches
    # should not pay for the bulk of the seeding.
    await conn.execute("VACUUM ANALYZE")
    row_bytes = await conn.fetchval("SELECT octet_length(state::text) FROM wallets"
                                    " WHERE key = $1", USER)
    step = len(seed)
    gift_ms, refund_ms = [], []
    for batch in range(args.batches):
        gifts = [gift(args.gifts + batch * 10 + i, step + i) for i in range(10)]
        elapsed, unit = await handled(conn, gifts, step, keep=False)
        assert [type(event) for event, _ in unit.events] == [CoinsSpent] * 10
        gift_ms.append(1000 * elapsed)
        old_lot = batch % max(1, args.gifts // args.gifts_per_lot)
        claw = [refund(old_lot, args.gifts_per_lot * GIFT_COINS, step)]
        elapsed, unit = await handled(conn, claw, step, keep=False)
        [(clawed, _)] = unit.events
        assert isinstance(clawed, CoinsClawedBack)
        assert len(clawed.funded_gifts) == args.gifts_per_lot
        refund_ms.append(1000 * elapsed)
    if args.explain:
        await _explain(conn, args)
    return {"gifts": args.gifts, "gifts_per_lot": args.gifts_per_lot,
            "snapshot_row_bytes": row_bytes, "seed_s": round(seed_s, 2),
            "batch_of_10_gifts_ms": round(statistics.median(gift_ms), 2),
            "batch_of_1_refund_ms": round(statistics.median(refund_ms), 2),
            "batches": args.batches}


async def _explain(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    """The plans of the batch's look-ups (the rows apart), on the wallet just built."""
    from services.wallet import store  # only where the wallet keeps rows apart

    looked_up = [(store.REQUESTS_SQL, [USER] * 10, [f"req-{n}" for n in range(10)]),
                 (store.FUNDED_GIFTS_SQL, [USER], ["pur-0"])]
    for sql, *values in looked_up:
        plan = await conn.fetch(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}", *values)
        print("\n".join(row[0] for row in plan), end="\n\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gifts", type=int, default=20_000)
    parser.add_argument("--gifts-per-lot", type=int, default=100)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--explain", action="store_true",
                        help="also print the plans of the look-ups of rows kept apart")
    result = asyncio.run(run(parser.parse_args()))
    for name, value in result.items():
        print(f"{name:>24}  {value}")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
