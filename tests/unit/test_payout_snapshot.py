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
