"""SQL of the payout schema."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import asyncpg

from services.payout import snapshot
from services.payout.domain import Creator, Earning, PolicyInEffect
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

creators = SnapshotTable("creators", Creator, dump=snapshot.dump_row, load=snapshot.load)
"""Rows without the earnings (see snapshot.dump_row): load creators with the functions below."""


async def load_creators(conn: asyncpg.Connection, keys: Iterable[str]) -> dict[str, Creator]:
    """The creators' rows (the runtime holds their locks), with their held earnings put back."""
    return await _with_held_earnings(conn, await creators.load_many(conn, keys))


async def load_creator(conn: asyncpg.Connection | asyncpg.Pool,
                       creator_id: str) -> Creator | None:
    state = await creators.load(conn, creator_id)
    if state is None:
        return None
    return (await _with_held_earnings(conn, {creator_id: state}))[creator_id]


async def _with_held_earnings(conn: asyncpg.Connection | asyncpg.Pool,
                              found: dict[str, Creator]) -> dict[str, Creator]:
    clocks = [(creator_id, state.clock) for creator_id, state in found.items()
              if state.clock is not None]
    if not clocks:
        return found
    rows = await conn.fetch(
        f"""SELECT e.creator_id, {', '.join('e.' + c for c in EARNING_COLUMNS)}
            FROM unnest($1::text[], $2::timestamptz[]) AS k(creator_id, clock)
            JOIN earnings e ON e.creator_id = k.creator_id AND e.available_at > k.clock""",
        [c for c, _ in clocks], [t for _, t in clocks])
    held: dict[str, list[Earning]] = {}
    for row in rows:
        held.setdefault(row["creator_id"], []).append(
            Earning(*(row[c] for c in EARNING_COLUMNS)))
    return {creator_id: state.with_earnings(held.get(creator_id, ()))
            for creator_id, state in found.items()}


EARNING_COLUMNS = ("request_id", "coins", "diamonds", "applied_to_debt", "available_at",
                   "clawed_coins", "clawed_diamonds", "clawed_from_held")


async def load_earnings(conn: asyncpg.Connection | asyncpg.Pool,
                        keys: Iterable[tuple[str, str]]) -> dict[str, list[Earning]]:
    """The stored earnings of these (creator_id, request_id), by creator; unknown ones are
    left out."""
    pairs = sorted(set(keys))
    if not pairs:
        return {}
    rows = await conn.fetch(
        f"""SELECT e.creator_id, {', '.join('e.' + c for c in EARNING_COLUMNS)}
            FROM unnest($1::text[], $2::text[]) AS k(creator_id, request_id)
            JOIN earnings e USING (creator_id, request_id)""",
        [c for c, _ in pairs], [r for _, r in pairs])
    found: dict[str, list[Earning]] = {}
    for row in rows:
        found.setdefault(row["creator_id"], []).append(
            Earning(*(row[c] for c in EARNING_COLUMNS)))
    return found


async def load_all_earnings(conn: asyncpg.Connection | asyncpg.Pool,
                            creator_id: str) -> list[Earning]:
    rows = await conn.fetch(f"SELECT {', '.join(EARNING_COLUMNS)} FROM earnings"
                            " WHERE creator_id = $1", creator_id)
    return [Earning(*(row[c] for c in EARNING_COLUMNS)) for row in rows]


async def save_earnings(conn: asyncpg.Connection,
                        earnings: Iterable[tuple[str, Earning]]) -> None:
    """Insert or overwrite these (creator_id, earning)."""
    rows = [(creator_id, *(getattr(e, c) for c in EARNING_COLUMNS))
            for creator_id, e in earnings]
    if not rows:
        return
    await conn.execute(
        """INSERT INTO earnings (creator_id, request_id, coins, diamonds, applied_to_debt,
                                 available_at, clawed_coins, clawed_diamonds, clawed_from_held)
           SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[],
                                $5::bigint[], $6::timestamptz[], $7::bigint[], $8::bigint[],
                                $9::bigint[])
           ON CONFLICT (creator_id, request_id) DO UPDATE
           SET coins = EXCLUDED.coins, diamonds = EXCLUDED.diamonds,
               applied_to_debt = EXCLUDED.applied_to_debt,
               available_at = EXCLUDED.available_at, clawed_coins = EXCLUDED.clawed_coins,
               clawed_diamonds = EXCLUDED.clawed_diamonds,
               clawed_from_held = EXCLUDED.clawed_from_held""",
        *[list(column) for column in zip(*rows, strict=True)])


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
            "INSERT INTO policy_events (event_id, payload) VALUES ($1, $2::text::json)"
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
