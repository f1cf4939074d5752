"""A creator's state as JSON for its snapshot row, and back.

The state holds read-only mappings, some keyed by (currency, day); JSON has neither, so the
layout here is explicit, and a round-trip test keeps it faithful.

`dump` / `load` round-trip a whole Creator (point-in-time checkpoints use them). The service's
row in `creators` is `dump_row`: the creator `without_earnings` (matured earnings folded into
the matured_* totals, held ones into the held_apart_* totals), every earning being a row of the
`earnings` table; store.py brings back the ones a batch needs. So the row's size does not grow
with the creator's gifts. A row written before the totals existed lists every earning: it loads
as it was, exactly (migration 0004 gave the rows written in between their held totals).
"""

from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import date, datetime
from types import MappingProxyType

import orjson

from services.payout.domain import Creator, Earning, Reservation

EARNING_FIELDS = tuple(f.name for f in fields(Earning))
RESERVATION_FIELDS = tuple(f.name for f in fields(Reservation))


def _as_object(value: Earning | Reservation, names: tuple[str, ...]) -> dict:
    # What dataclasses.asdict gives for these flat records of immutable values, without its
    # recursive deep copy.
    return {name: getattr(value, name) for name in names}


def dump(creator: Creator) -> bytes:
    return orjson.dumps({
        "creator_id": creator.creator_id,
        "verified": creator.verified,
        "clock": creator.clock,
        "earnings": [_as_object(e, EARNING_FIELDS) for e in creator.earnings.values()],
        "reservations": [_as_object(r, RESERVATION_FIELDS)
                         for r in creator.reservations.values()],
        "withdrawn_diamonds": creator.withdrawn_diamonds,
        "clawed_from_available_diamonds": creator.clawed_from_available_diamonds,
        "debt_diamonds": creator.debt_diamonds,
        "net_minor_by_day": [[currency, day, minor]
                             for (currency, day), minor in creator.net_minor_by_day.items()],
        "payouts_seen": {payout_id: event_id for payout_id, event_id in
                         creator.payouts_seen.items()},
        "duplicate_requests": sorted(str(event_id) for event_id in creator.duplicate_requests),
        "clawbacks_seen": sorted(list(pair) for pair in creator.clawbacks_seen),
        "matured_credited": creator.matured_credited,
        "matured_earned": creator.matured_earned,
        "matured_clawed": creator.matured_clawed,
        "held_apart_credited": creator.held_apart_credited,
        "held_apart_earned": creator.held_apart_earned,
        "held_apart_clawed": creator.held_apart_clawed,
    }, default=str)


def dump_row(creator: Creator) -> bytes:
    return dump(creator.without_earnings())


def load(raw: bytes | str) -> Creator:
    data = orjson.loads(raw)
    earnings = [Earning(**{**e, "available_at": datetime.fromisoformat(e["available_at"])})
                for e in data["earnings"]]
    reservations = [Reservation(**{**r, "day": date.fromisoformat(r["day"])})
                    for r in data["reservations"]]
    return Creator(
        creator_id=data["creator_id"],
        verified=data["verified"],
        clock=datetime.fromisoformat(data["clock"]) if data["clock"] else None,
        earnings=MappingProxyType({e.request_id: e for e in earnings}),
        reservations=MappingProxyType({r.payout_id: r for r in reservations}),
        withdrawn_diamonds=data["withdrawn_diamonds"],
        clawed_from_available_diamonds=data["clawed_from_available_diamonds"],
        debt_diamonds=data["debt_diamonds"],
        net_minor_by_day=MappingProxyType({
            (currency, date.fromisoformat(day)): minor
            for currency, day, minor in data["net_minor_by_day"]}),
        payouts_seen=MappingProxyType({
            payout_id: uuid.UUID(event_id) if event_id else None
            for payout_id, event_id in data["payouts_seen"].items()}),
        duplicate_requests=frozenset(uuid.UUID(e) for e in data["duplicate_requests"]),
        clawbacks_seen=frozenset(tuple(pair) for pair in data["clawbacks_seen"]),
        matured_credited=data.get("matured_credited", 0),
        matured_earned=data.get("matured_earned", 0),
        matured_clawed=data.get("matured_clawed", 0),
        held_apart_credited=data.get("held_apart_credited", 0),
        held_apart_earned=data.get("held_apart_earned", 0),
        held_apart_clawed=data.get("held_apart_clawed", 0),
    )
