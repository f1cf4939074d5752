"""SQL of the payout schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg

from services.payout import snapshot
from services.payout.domain import Creator, PolicyInEffect
from shared.contract.defaults import default_policy
from shared.contract.events.payout import (
    PayoutEvent,
    PayoutPosted,
    PayoutRejected,
    PayoutReleased,
    PayoutReserved,
)
from shared.contract.events.policy import PolicyEvent
from shared.contract.topics import POLICY_CHANGES
from shared.runtime.aggregates import SnapshotTable

creators = SnapshotTable("creators", Creator, dump=snapshot.dump, load=snapshot.load)


async def load_policy(conn: asyncpg.Connection) -> PolicyInEffect:
    """The built-in defaults, then every policy event followed so far, in order."""
    policy = PolicyInEffect()
    for event in default_policy():
        policy = policy.apply(event)
    for row in await conn.fetch("SELECT payload::text AS payload FROM policy_events ORDER BY seq"):
        policy = policy.apply(POLICY_CHANGES.adapter.validate_json(row["payload"]))
    return policy


async def save_policy_events(conn: asyncpg.Connection, events: Sequence[PolicyEvent]) -> None:
    if events:
        await conn.executemany(
            "INSERT INTO policy_events (event_id, payload) VALUES ($1, $2::text::jsonb)"
            " ON CONFLICT (event_id) DO NOTHING",
            [(event.event_id, event.model_dump_json()) for event in events])


async def save_balances(conn: asyncpg.Connection, changed: Mapping[str, Creator]) -> None:
    rows = []
    for creator_id, creator in changed.items():
        at = creator.clock
        if at is None:
            continue
        rows.append((creator_id, creator.verified, creator.earned_diamonds, creator.held(at),
                     creator.available(at), creator.reserved_diamonds,
                     creator.withdrawn_diamonds, creator.clawed_back_diamonds,
                     creator.debt_diamonds, at))
    if not rows:
        return
    await conn.execute(
        """INSERT INTO creator_balances (creator_id, verified, earned, held, available, reserved,
                                         withdrawn, clawed_back, debt, as_of)
           SELECT * FROM unnest($1::text[], $2::boolean[], $3::bigint[], $4::bigint[],
                                $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[],
                                $9::bigint[], $10::timestamptz[])
           ON CONFLICT (creator_id) DO UPDATE
           SET verified = EXCLUDED.verified, earned = EXCLUDED.earned, held = EXCLUDED.held,
               available = EXCLUDED.available, reserved = EXCLUDED.reserved,
               withdrawn = EXCLUDED.withdrawn, clawed_back = EXCLUDED.clawed_back,
               debt = EXCLUDED.debt, as_of = EXCLUDED.as_of""",
        *[list(column) for column in zip(*rows, strict=True)])


async def record_payouts(conn: asyncpg.Connection, events: Sequence[PayoutEvent]) -> None:
    for event in events:
        if isinstance(event, PayoutReserved):
            await conn.execute(
                """INSERT INTO payouts (payout_id, creator_id, status, diamonds, gross_minor,
                                        fee_minor, net_minor, currency, rate_version,
                                        requested_at)
                   VALUES ($1, $2, 'reserved', $3, $4, $5, $6, $7, $8, $9)""",
                event.payout_id, event.creator_id, event.diamonds, event.gross_minor,
                event.fee_minor, event.net_minor, event.currency, event.rate_version,
                event.occurred_at)
        elif isinstance(event, PayoutRejected):
            await conn.execute(
                """INSERT INTO payouts (payout_id, creator_id, status, diamonds, reason,
                                        requested_at, settled_at)
                   VALUES ($1, $2, 'rejected', $3, $4, $5, $5)
                   ON CONFLICT (payout_id) DO NOTHING""",
                event.payout_id, event.creator_id, event.diamonds, event.reason.value,
                event.occurred_at)
        elif isinstance(event, PayoutPosted | PayoutReleased):
            status = "paid" if isinstance(event, PayoutPosted) else "failed"
            reason = event.reason if isinstance(event, PayoutReleased) else None
            await conn.execute(
                "UPDATE payouts SET status = $2, reason = $3, settled_at = $4"
                " WHERE payout_id = $1", event.payout_id, status, reason, event.occurred_at)
