"""A creator's snapshot row restores exactly the state it was written from."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.payout import snapshot
from services.payout.domain import (
    CashRate,
    Creator,
    HoldPolicy,
    PayoutLimits,
    Replay,
    SharePolicy,
    decide_clawback,
    decide_earning,
    decide_payout,
    decide_verification,
    evolve,
)
from shared.contract.events import creators, users, wallet
from tests.contract.examples import EXAMPLES

T = datetime(2026, 3, 1, tzinfo=UTC)


def _example(kind):
    return next(e for e in EXAMPLES if isinstance(e, kind))


def test_snapshot_round_trip_of_a_busy_creator():
    creator = Creator("creator-1")
    spent = _example(wallet.CoinsSpent)
    steps = [
        decide_verification(creator, _example(users.CreatorVerified).model_copy(
            update={"user_id": "creator-1", "key": "creator-1"})),
    ]
    for events in steps:
        for event in events:
            creator = evolve(creator, event)
    share = SharePolicy(Decimal("0.5"), "share-1")
    hold = HoldPolicy(0, "hold-1")
    for coins in (30000, 4000):
        gift = spent.model_copy(update={"coins": coins, "request_id": f"req-{coins}",
                                        "event_id": uuid.uuid4()})
        for event in decide_earning(creator, gift, share, hold):
            creator = evolve(creator, event)
    request = _example(creators.PayoutRequested).model_copy(
        update={"occurred_at": T + timedelta(days=1)})
    for event in decide_payout(creator, request, CashRate("USD", Decimal("0.5"), 0, 0, "c"),
                               PayoutLimits("USD", 5000, 100000, "l")):
        creator = evolve(creator, event)
    clawback = _example(wallet.CoinsClawedBack).model_copy(update={"funded_gifts": (
        wallet.FundedGift(request_id="req-4000", creator_id="creator-1", coins=4000),)})
    for event in decide_clawback(creator, clawback):
        creator = evolve(creator, event)
    assert creator.reservations and creator.net_minor_by_day and creator.clawbacks_seen
    assert snapshot.load(snapshot.dump(creator)) == creator


def _maturing(table, clock, until):
    return [e for e in table.values() if clock < e.available_at <= until]


def test_compacted_creator_decides_as_the_full_one():
    """The handler's way (the snapshot row keeps no earnings, only totals of the matured ones
    and of the held ones; the held ones maturing by the batch's time come back from the
    `earnings` table, and any one a decision looks up) gives the same outputs, bit for bit,
    and the same held / matured / available at every t >= clock, as the full state."""
    import random

    from services.payout.domain import Earning, PolicyInEffect, decide

    rng = random.Random(7)
    policy = PolicyInEffect(
        SharePolicy(Decimal("0.5"), "s"), HoldPolicy(3 * 86400, "h"),
        {"USD": CashRate("USD", Decimal("0.5"), 0, 0, "c")},
        {"USD": PayoutLimits("USD", 1, 10**9, "l")})

    spent, clawback = _example(wallet.CoinsSpent), _example(wallet.CoinsClawedBack)
    request = _example(creators.PayoutRequested)
    verified = _example(users.CreatorVerified).model_copy(
        update={"user_id": "creator-1", "key": "creator-1", "verified": True})
    full = Creator("creator-1")
    compact = Creator("creator-1")
    table: dict[str, Earning] = {}
    gifts: list[str] = []
    kept_in_memory = brought_back = 0
    at = T
    for step in range(600):
        at += timedelta(hours=rng.choice([0, 1, 5, 30]))
        late = at - timedelta(hours=rng.choice([0, 0, 0, 2, 80]))
        roll = rng.random()
        if step == 0:
            inputs = [verified.model_copy(update={"occurred_at": at})]
        elif roll < 0.55 or not gifts:
            rid = rng.choice(gifts) if gifts and rng.random() < 0.1 else f"g{step}"
            gifts.append(rid)
            inputs = [spent.model_copy(update={
                "creator_id": "creator-1", "request_id": rid, "coins": rng.randint(1, 900),
                "event_id": uuid.uuid4(), "occurred_at": late})]
        elif roll < 0.8:
            funded = tuple(wallet.FundedGift(request_id=rng.choice(gifts), creator_id="creator-1",
                                             coins=rng.randint(1, 400)) for _ in range(3))
            inputs = [clawback.model_copy(update={
                "purchase_id": f"p{rng.randint(0, step)}", "funded_gifts": funded,
                "event_id": uuid.uuid4(), "occurred_at": late})]
        else:
            inputs = [request.model_copy(update={
                "creator_id": "creator-1", "payout_id": f"po{step}", "currency": "USD",
                "diamonds": rng.randint(1, 2000), "event_id": uuid.uuid4(),
                "occurred_at": late})]
        # The handler: bring back the held earnings maturing by the batch's latest time and the
        # earnings the batch looks up, decide on one draft, save the row without earnings.
        until = max(event.occurred_at for event in inputs)
        if compact.clock is not None:
            maturing = _maturing(table, compact.clock, until)
            brought_back += len(maturing)
            compact = compact.brought_back(maturing, until)
        needed = {rid for event in inputs for rid in (
            [event.request_id] if isinstance(event, wallet.CoinsSpent) else
            [g.request_id for g in event.funded_gifts]
            if isinstance(event, wallet.CoinsClawedBack) else [])}
        compact = compact.with_earnings(
            table[rid] for rid in needed if rid in table and rid not in compact.earnings)
        draft = Replay.of(compact)
        for event in inputs:
            expected = decide(full, event, policy)
            got = decide(draft, event, policy)
            assert [e.model_dump_json() for e in got] == [e.model_dump_json() for e in expected]
            for output in expected:
                full = evolve(full, output)
                draft.apply(output)
        compact = draft.freeze()
        table.update(compact.earnings)
        row = snapshot.load(snapshot.dump_row(compact))
        assert not row.earnings
        assert row == full.without_earnings()
        for later in (row.clock, row.clock + timedelta(days=1), row.clock + timedelta(days=4)):
            probe = row.brought_back(_maturing(table, row.clock, later), later)
            assert (probe.held(later), probe.matured(later), probe.available(later),
                    probe.withdrawable(later)) == (
                full.held(later), full.matured(later), full.available(later),
                full.withdrawable(later))
        if row.held_apart_earned:
            with pytest.raises(ValueError, match="not brought back"):
                row.held(row.clock + timedelta(seconds=1))
        assert (row.earned_diamonds, row.clawed_back_diamonds, row.balance_diamonds) == (
            full.earned_diamonds, full.clawed_back_diamonds, full.balance_diamonds)
        assert row.with_earnings(table.values()) == full
        kept_in_memory = max(kept_in_memory, len(compact.earnings))
        compact = row
    assert len(full.earnings) > 200 and kept_in_memory < len(full.earnings) / 4
    assert brought_back > 100
    assert full.clawed_back_diamonds and full.withdrawn_diamonds + full.reserved_diamonds
