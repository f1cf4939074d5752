"""Which relay publishes a schema's outbox: the one whose session holds the lock on the
schema's relay_leadership table (migration 0005), at the epoch it took over.

The lock is SHARE UPDATE EXCLUSIVE, taken with NOWAIT in a transaction that stays open on a
session of its own: the mode conflicts only with itself (and with maintenance, which skips a
locked table), so the relay's own session still updates the table, and taking it needs UPDATE
rights on the table, which only the service's role has. The open transaction writes nothing,
so it holds no transaction id and keeps no snapshot: it holds back no vacuum.

The session is pinged at most once a second by the leader: a leader that stops (frozen,
cut off) leaves its session idle in its transaction, which the server ends after
IDLE_IN_TRANSACTION_TIMEOUT_MS, and another relay takes over. The epoch fences a leader that
has not noticed yet: the relay's reads name it, and find nothing once it has moved on.
"""

from __future__ import annotations

import contextlib
import time

import asyncpg

from shared.runtime import db

PING_EVERY_S = 1.0
PING_TIMEOUT_S = 2.0

_TAKE = "LOCK TABLE relay_leadership IN SHARE UPDATE EXCLUSIVE MODE NOWAIT"
_NEXT_EPOCH = "UPDATE relay_leadership SET epoch = epoch + 1 RETURNING epoch"


class Leadership:
    def __init__(self, database_url: str, schema: str):
        self.database_url = database_url
        self.schema = schema
        self.epoch: int | None = None
        """Set while this relay leads."""
        self._conn: asyncpg.Connection | None = None
        self._transaction: asyncpg.transaction.Transaction | None = None
        self._pinged = 0.0

    async def try_take(self, conn: asyncpg.Connection) -> int | None:
        """Take the leadership if nobody holds it; `conn`, the relay's own session, moves the
        epoch on. Returns the epoch, or None when another relay leads."""
        if self._conn is None or self._conn.is_closed():
            self._conn = await db.connect(self.database_url, self.schema)
        transaction = self._conn.transaction()
        await transaction.start()
        try:
            await self._conn.execute(_TAKE)
        except asyncpg.LockNotAvailableError:
            await transaction.rollback()
            return None
        self._transaction, self._pinged = transaction, time.monotonic()
        self.epoch = await conn.fetchval(_NEXT_EPOCH)
        return self.epoch

    async def still_held(self) -> bool:
        """False once the lock's session is gone: the leadership with it."""
        conn = self._conn
        if self.epoch is None or conn is None or conn.is_closed():
            return False
        if time.monotonic() - self._pinged < PING_EVERY_S:
            return True
        try:
            await conn.fetchval("SELECT 1", timeout=PING_TIMEOUT_S)
        except (asyncpg.PostgresError, OSError, TimeoutError, asyncpg.InterfaceError):
            await self.close()
            return False
        self._pinged = time.monotonic()
        return True

    async def close(self) -> None:
        """Give up the leadership (if held) and the lock's session."""
        self.epoch, self._transaction = None, None
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
