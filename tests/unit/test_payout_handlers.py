"""Payout's batch handler on a fake unit of work: what it emits, and what it saves.

Each test runs handlers.handle on batches as the runtime hands them over, with the store
module swapped for an in-memory one (tests/unit/fake_stores.py); no database, no broker.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.payout import handlers
from shared.contract.events.creators import PayoutRequested
from shared.contract.events.payout import (
    CreatorVerificationRecorded,
    DiamondsEarned,
    PayoutReserved,
)
from shared.contract.events.policy import HoldPeriodSet
from shared.contract.events.users import AgeVerified, CreatorVerified
from shared.contract.events.wallet import CoinsSpent, LotKind, LotUse
from tests.unit.fake_stores import FakePayoutStore
from tests.unit.fake_unit import handle_batch

CREATOR = "creator-1"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _eid(label: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"test/payout-handler/{label}")


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakePayoutStore:
    """The default policy: half a diamond per coin, held 15 days, 0.5 cent per diamond."""
    fake = FakePayoutStore()
    monkeypatch.setattr(handlers, "store", fake)
    return fake


def spent(request_id: str = "req-1", coins: int = 100, at: datetime = T0) -> CoinsSpent:
    return CoinsSpent(event_id=_eid(f"spent/{request_id}"), occurred_at=at, user_id="viewer-1",
                      request_id=request_id, creator_id=CREATOR, stream_id="stream-1",
                      gift_id="rose", coins=coins, balance_after=0,
                      lots=(LotUse(lot_id="pur-1", kind=LotKind.purchase, coins=coins,
                                   value_minor=coins, currency="USD"),))


def verified(at: datetime) -> CreatorVerified:
    return CreatorVerified(event_id=_eid(f"verified/{at}"), occurred_at=at, user_id=CREATOR,
                           verified=True)


NO_HOLD = HoldPeriodSet(event_id=_eid("no-hold"), occurred_at=T0, rate_version="hold-0",
                        hold_s=0)


async def test_a_gift_earns_diamonds_on_hold(store):
    unit = await handle_batch(handlers.handle, [spent()])
    [earned] = unit.emitted
    assert isinstance(earned, DiamondsEarned)
    assert (earned.creator_id, earned.request_id, earned.coins, earned.diamonds) == (
        CREATOR, "req-1", 100, 50)
    assert earned.available_at == T0 + 15 * DAY
    assert unit.causes[0].event == spent()
    [(rows,)] = store.arguments("save_earnings")
    assert [(creator_id, e.request_id, e.diamonds) for creator_id, e in rows] == [
        (CREATOR, "req-1", 50)]
    assert store.balances[CREATOR] == 50
    held = store.creators.states[CREATOR]
    assert (held.clock, dict(held.earnings)) == (T0, {})    # the row keeps no earnings


async def test_a_gift_is_earned_once_even_after_it_left_the_creator_row(store):
    await handle_batch(handlers.handle, [spent()])
    await handle_batch(handlers.handle, [verified(T0 + 16 * DAY)])    # matured: folded away
    assert store.creators.states[CREATOR].matured_earned == 50
    unit = await handle_batch(handlers.handle, [spent()])
    assert unit.emitted == []
    assert store.arguments("load_earnings")[-1] == ([(CREATOR, "req-1")],)
    assert store.balances[CREATOR] == 50


async def test_a_policy_change_applies_to_the_rest_of_its_batch(store):
    unit = await handle_batch(handlers.handle, [NO_HOLD, spent()])
    [earned] = unit.emitted
    assert earned.available_at == T0
    assert earned.hold_rate_version == "hold-0"
    assert store.arguments("save_policy_events") == [([NO_HOLD],)]


async def test_matured_diamonds_of_a_verified_creator_are_paid_out(store):
    await handle_batch(handlers.handle, [NO_HOLD, spent(coins=20_000)])
    request = PayoutRequested(event_id=_eid("payout"), occurred_at=T0 + DAY,
                              creator_id=CREATOR, payout_id="pay-1", diamonds=10_000,
                              currency="USD", method="bank")
    unit = await handle_batch(handlers.handle, [verified(T0 + DAY), request])
    assert [type(event) for event in unit.emitted] == [CreatorVerificationRecorded,
                                                       PayoutReserved]
    reserved = unit.emitted[-1]
    assert (reserved.payout_id, reserved.diamonds, reserved.net_minor) == ("pay-1", 10_000,
                                                                            5000)
    assert store.payouts == {"pay-1": "reserved"}
    assert store.balances[CREATOR] == 10_000    # reserved diamonds are still the creator's


async def test_events_payout_does_not_act_on_touch_nothing(store):
    fact = AgeVerified(event_id=_eid("age"), occurred_at=T0, user_id=CREATOR, adult=True)
    unit = await handle_batch(handlers.handle, [fact])
    assert unit.emitted == []
    assert store.arguments("load_creators") == [([],)]
    assert store.arguments("creators.save") == [([],)]
