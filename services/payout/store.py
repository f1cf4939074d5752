"""SQL of the payout schema: the rows themselves are services/payout/projection.py's.

`creators` rows leave the earnings out (see snapshot.dump_row): a batch loads its creators with
`load_creators`, which brings back the held earnings maturing within the batch's times."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import asyncpg

from services.payout.domain import Creator, Earning, PolicyInEffect
from services.payout.projection import (
    CREATOR_BALANCES,
    EARNING_FIELDS,
    EARNINGS,
    PAYOUT_EVENTS,
    PAYOUTS,
    POLICY_EVENTS,
    balance_row,
    creators,
    earning_of,
    earning_rows,
    payout_row,
    policy_event_row,
)
from shared.contract.defaults import default_policy
from shared.contract.events.payout import PayoutEvent, PayoutReserved
from shared.contract.events.policy import PolicyEvent
from shared.contract.topics import POLICY_CHANGES


async def load_creators(conn: asyncpg.Connection,
                        until: Mapping[str, datetime]) -> dict[str, Creator]:
    """The creators' rows (the runtime holds their locks), each able to answer for times up to
    its `until`: the earnings set apart while held that mature by then are brought back."""
    found = await creators.load_many(conn, until)
    windows = [(creator_id, state.clock, until[creator_id])
               for creator_id, state in found.items()
               if state.clock is not None and state.horizon is not None
               and until[creator_id] > state.clock]
    if not windows:
        return found
    rows = await conn.fetch(
        f"""SELECT e.creator_id, {', '.join('e.' + c for c in EARNING_FIELDS)}
            FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[])
                 AS k(creator_id, clock, until)
            JOIN earnings e ON e.creator_id = k.creator_id
             AND e.available_at > k.clock AND e.available_at <= k.until""",
        [c for c, _, _ in windows], [t for _, t, _ in windows], [u for _, _, u in windows])
    maturing: dict[str, list[Earning]] = {}
    for row in rows:
        maturing.setdefault(row["creator_id"], []).append(earning_of(row))
    return {creator_id: state.brought_back(maturing.get(creator_id, ()), until[creator_id])
            if state.clock is not None else state
            for creator_id, state in found.items()}


async def load_creator(conn: asyncpg.Connection | asyncpg.Pool,
                       creator_id: str) -> Creator | None:
    """The creator's row as saved: it answers for its clock (see Creator.horizon)."""
    return await creators.load(conn, creator_id)


async def load_earnings(conn: asyncpg.Connection | asyncpg.Pool,
                        keys: Iterable[tuple[str, str]]) -> dict[str, list[Earning]]:
    """The stored earnings of these (creator_id, request_id), by creator; unknown ones are
    left out."""
    pairs = sorted(set(keys))
    if not pairs:
        return {}
    rows = await conn.fetch(
        f"""SELECT e.creator_id, {', '.join('e.' + c for c in EARNING_FIELDS)}
            FROM unnest($1::text[], $2::text[]) AS k(creator_id, request_id)
            JOIN earnings e USING (creator_id, request_id)""",
        [c for c, _ in pairs], [r for _, r in pairs])
    found: dict[str, list[Earning]] = {}
    for row in rows:
        found.setdefault(row["creator_id"], []).append(earning_of(row))
    return found


async def load_all_earnings(conn: asyncpg.Connection | asyncpg.Pool,
                            creator_id: str) -> list[Earning]:
    rows = await conn.fetch(f"SELECT {', '.join(EARNING_FIELDS)} FROM earnings"
                            " WHERE creator_id = $1", creator_id)
    return [earning_of(row) for row in rows]


async def save_earnings(conn: asyncpg.Connection,
                        earnings: Iterable[tuple[str, Earning]]) -> None:
    """Insert or overwrite these (creator_id, earning)."""
    await EARNINGS.upsert(conn, earning_rows(earnings))


async def load_policy(conn: asyncpg.Connection) -> PolicyInEffect:
    """The built-in defaults, then every policy event followed so far, in order."""
    policy = PolicyInEffect()
    for event in default_policy():
        policy = policy.apply(event)
    for row in await conn.fetch("SELECT payload::text AS payload FROM policy_events ORDER BY seq"):
        policy = policy.apply(POLICY_CHANGES.adapter.validate_json(row["payload"]))
    return policy


async def policy_known(conn: asyncpg.Connection) -> bool:
    """A policy event has been projected from policy.changes."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT FROM policy_events)"))


def default_rate_versions() -> list[str]:
    """The rate versions of the built-in defaults a payout decision uses before any policy."""
    policy = PolicyInEffect()
    for event in default_policy():
        policy = policy.apply(event)
    used = [policy.share, policy.hold, *policy.cash_rates.values(), *policy.limits.values()]
    return [value.rate_version for value in used if value is not None]


async def save_policy_events(conn: asyncpg.Connection, events: Sequence[PolicyEvent]) -> None:
    await POLICY_EVENTS.insert(conn, [policy_event_row(event) for event in events],
                               unless_exists=("event_id",))


async def save_balances(conn: asyncpg.Connection, changed: Mapping[str, Creator]) -> None:
    rows = [balance_row(creator_id, creator) for creator_id, creator in changed.items()]
    await CREATOR_BALANCES.upsert(conn, [row for row in rows if row is not None])


async def record_payouts(conn: asyncpg.Connection, events: Sequence[PayoutEvent]) -> None:
    """The payouts' rows after these events, in order (projection.payout_row). A payout id is
    reserved once: a reservation of an id that has a row is refused by the table's key, as a
    second row (payout ids come from outside, and another creator may have used the id)."""
    decided = [event for event in events if isinstance(event, PAYOUT_EVENTS)]
    if not decided:
        return
    stored = await conn.fetch(
        f"SELECT {', '.join(PAYOUTS.column_names)} FROM payouts"
        " WHERE payout_id = ANY($1::text[])", sorted({event.payout_id for event in decided}))
    rows: dict[str, tuple | None] = {row["payout_id"]: tuple(row) for row in stored}
    existing = set(rows)
    reserved = {event.payout_id for event in decided if isinstance(event, PayoutReserved)}
    for event in decided:
        rows[event.payout_id] = payout_row(rows.get(event.payout_id), event)
    new = {payout_id for payout_id in rows if payout_id not in existing or payout_id in reserved}
    await PAYOUTS.insert(conn, [row for payout_id, row in rows.items()
                                if payout_id in new and row is not None])
    await PAYOUTS.upsert(conn, [row for payout_id, row in rows.items()
                                if payout_id not in new and row is not None])
