"""A creator's snapshot row restores exactly the state it was written from."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.payout import snapshot
from services.payout.domain import (
    CashRate,
    Creator,
    HoldPolicy,
    PayoutLimits,
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


def test_compacted_creator_decides_as_the_full_one():
    """The handler's way (the snapshot row keeps no earnings, only totals of the matured ones;
    the held ones come back from the `earnings` table with it, and matured ones when a decision
    looks them up) gives the same outputs, bit for
    bit, and the same held / matured / available at every t >= clock, as the full state."""
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
        # The handler: bring back folded earnings the batch looks up, decide, save compacted.
        needed = {rid for event in inputs for rid in (
            [event.request_id] if isinstance(event, wallet.CoinsSpent) else
            [g.request_id for g in event.funded_gifts]
            if isinstance(event, wallet.CoinsClawedBack) else [])}
        compact = compact.with_earnings(
            table[rid] for rid in needed if rid in table and rid not in compact.earnings)
        for event in inputs:
            expected = decide(full, event, policy)
            got = decide(compact, event, policy)
            assert [e.model_dump_json() for e in got] == [e.model_dump_json() for e in expected]
            for output in expected:
                full, compact = evolve(full, output), evolve(compact, output)
        table.update(compact.earnings)
        row = snapshot.load(snapshot.dump_row(compact))
        assert not row.earnings
        compact = row.with_earnings(e for e in table.values() if e.available_at > row.clock)
        assert all(e.available_at > compact.clock for e in compact.earnings.values())
        for later in (compact.clock, compact.clock + timedelta(days=1),
                      compact.clock + timedelta(days=4)):
            assert (compact.held(later), compact.matured(later), compact.available(later),
                    compact.withdrawable(later)) == (
                full.held(later), full.matured(later), full.available(later),
                full.withdrawable(later))
        assert (compact.earned_diamonds, compact.clawed_back_diamonds,
                compact.balance_diamonds) == (full.earned_diamonds, full.clawed_back_diamonds,
                                              full.balance_diamonds)
        assert full.compacted() == compact
        assert compact.with_earnings(table.values()) == full
    assert len(full.earnings) > 200 and len(compact.earnings) < len(full.earnings) / 4
    assert full.clawed_back_diamonds and full.withdrawn_diamonds + full.reserved_diamonds
