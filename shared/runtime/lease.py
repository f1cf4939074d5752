"""Which relay publishes a schema's outbox: the holder of the schema's relay_lease row
(runtime migration 0005), until the lease expires.

A relay takes or renews the lease with one UPDATE that succeeds only if it holds the lease
already, the lease has expired, or the session that renewed it last is gone (a killed process's
session ends at once, so its lease need not run out). The epoch moves on with every change of
holder. Only the schema's owner may write the row, so no other role can take the lease and stop
the service publishing (any role could take the advisory lock that elected the relay before).

The holder renews every RENEW_LEASE_EVERY_S and counts its lease as valid until LEASE_TTL_S
after the moment it sent the renewal, on its own monotonic clock: the server's expiry is
measured from later (its statement's start), so the relay's own deadline passes first. A relay
past its deadline sends nothing more. A frozen or cut-off leader is therefore replaced about
LEASE_TTL_S after its last renewal; the sends it had in flight then may reach Kafka after the
new leader's (duplicates with the same event ids, which every consumer drops). What the epoch
fences is the outbox itself: the relay's delete-and-read names its epoch, and deletes and reads
nothing once the epoch has moved.

Unlike a lock that conflicts with itself, the row lock of the UPDATE lasts one statement and
keeps nothing from VACUUM or ANALYZE.
"""

from __future__ import annotations

import contextlib
import time

import asyncpg

LEASE_TTL_S = 10.0
"""Comfortably above the relay's publish timeout (5 s): a leader whose sends are slow gives up
on them before it could lose its lease while they are on their way."""
RENEW_LEASE_EVERY_S = 2.0

_TAKE = """
    UPDATE relay_lease
       SET epoch = CASE WHEN holder = $1 THEN epoch ELSE epoch + 1 END,
           holder = $1, expires_at = now() + make_interval(secs => $2),
           holder_pid = pg_backend_pid(),
           holder_since = (SELECT backend_start FROM pg_stat_activity
                            WHERE pid = pg_backend_pid())
     WHERE holder = $1 OR expires_at < now()
        -- The last holder's session has ended. A session of another role is shown without its
        -- start (NULL): then only the expiry counts.
        OR NOT EXISTS (SELECT FROM pg_stat_activity AS a
                        WHERE a.pid = relay_lease.holder_pid
                          AND (a.backend_start IS NULL
                               OR a.backend_start = relay_lease.holder_since))
    RETURNING epoch
"""

_RELEASE = """UPDATE relay_lease SET expires_at = '-infinity', holder_pid = NULL
               WHERE holder = $1 AND epoch = $2"""


class LeaseLost(Exception):
    """Another relay holds the lease now, or this one's ran out before it was renewed."""


class Lease:
    """One relay's hold on its schema's lease, on the relay's own connection."""

    def __init__(self, holder: str, *, ttl_s: float = LEASE_TTL_S,
                 renew_every_s: float = RENEW_LEASE_EVERY_S):
        if not 0 < renew_every_s < ttl_s:
            raise ValueError("a lease is renewed more often than it lasts")
        self.holder = holder
        self.ttl_s = ttl_s
        self.renew_every_s = renew_every_s
        self.epoch: int | None = None
        """Set while this relay holds the lease."""
        self._renewed_at = 0.0
        self._deadline = 0.0

    async def try_take(self, conn: asyncpg.Connection) -> bool:
        """Take the lease if it is free (or this relay's already); True if held now."""
        sent_at = time.monotonic()
        epoch = await conn.fetchval(_TAKE, self.holder, self.ttl_s)
        if epoch is None:
            self.epoch = None
            return False
        self.epoch, self._renewed_at, self._deadline = epoch, sent_at, sent_at + self.ttl_s
        return True

    async def keep(self, conn: asyncpg.Connection) -> None:
        """Renew the lease when due. Raises LeaseLost if another relay took it meanwhile."""
        if self.epoch is None:
            raise LeaseLost("no lease held")
        if time.monotonic() < self._renewed_at + self.renew_every_s:
            return
        held = self.epoch
        if not await self.try_take(conn) or self.epoch != held:
            self.epoch = None
            raise LeaseLost(f"the lease passed to another relay (it was at epoch {held})")

    def check(self) -> None:
        """Before a send: raises LeaseLost once the lease is past this relay's deadline."""
        if self.epoch is None or time.monotonic() >= self._deadline:
            self.epoch = None
            raise LeaseLost("the lease ran out before it was renewed")

    def seconds_to_renewal(self) -> float:
        return max(0.0, self._renewed_at + self.renew_every_s - time.monotonic())

    async def release(self, conn: asyncpg.Connection) -> None:
        """Let another relay take over at once (a graceful stop); best effort."""
        epoch, self.epoch = self.epoch, None
        if epoch is None or conn.is_closed():
            return
        with contextlib.suppress(Exception):
            await conn.execute(_RELEASE, self.holder, epoch, timeout=2)
