"""Migration 0004 gives creator rows written before it the totals of their held earnings, so a
batch that no longer loads every held earning decides as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import pytest

from services.payout import store
from services.payout.app import definition
from services.payout.domain import Creator, Earning
from services.payout.projection import earning_rows
from shared.runtime.migrate import apply_migrations

pytestmark = pytest.mark.integration

CLOCK = datetime(2026, 5, 1, tzinfo=UTC)


async def test_rows_from_before_get_the_totals_of_their_held_earnings(
        db: asyncpg.Connection, schema: str) -> None:
    migrations = definition.all_migrations
    before = [m for m in migrations if not (m.component == "payout" and m.version >= 4)]
    await apply_migrations(db, schema, before)
    held = [Earning(f"held-{n}", 100, 50, 0, CLOCK + timedelta(days=n), 0, 10, 10)
            for n in (1, 2)]
    matured = Earning("matured", 40, 20, 5, CLOCK - timedelta(days=1))
    row = _row_before_0004(Creator("creator-1", clock=CLOCK, matured_credited=15,
                                   matured_earned=20))
    await db.execute("INSERT INTO creators (key, state, version) VALUES ($1, $2::json, 1)",
                     "creator-1", row.decode())
    await db.executemany(
        "INSERT INTO earnings VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        earning_rows([("creator-1", e) for e in [*held, matured]]))

    await apply_migrations(db, schema, migrations)

    loaded = (await store.load_creators(db, {"creator-1": CLOCK}))["creator-1"]
    assert (loaded.held_apart_credited, loaded.held_apart_earned,
            loaded.held_apart_clawed) == (80, 100, 20)
    assert loaded.held(CLOCK) == 80 and loaded.matured(CLOCK) == 15
    assert loaded.earned_diamonds == 120 and loaded.clawed_back_diamonds == 20
    later = (await store.load_creators(db, {"creator-1": CLOCK + timedelta(days=1)}))[
        "creator-1"]
    assert set(later.earnings) == {"held-1"}
    assert later.held(CLOCK + timedelta(days=1)) == 40
    assert later.matured(CLOCK + timedelta(days=1)) == 55


def _row_before_0004(creator: Creator) -> bytes:
    from services.payout import snapshot

    data = orjson.loads(snapshot.dump_row(creator))
    for name in ("held_apart_credited", "held_apart_earned", "held_apart_clawed"):
        del data[name]
    return orjson.dumps(data)
