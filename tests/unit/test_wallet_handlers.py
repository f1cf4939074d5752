"""The wallet's batch handler on a fake unit of work: what it emits, and what it saves.

Each test runs handlers.handle on batches as the runtime hands them over, with the store
module swapped for an in-memory one (tests/unit/fake_stores.py); no database, no broker.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.wallet import handlers
from services.wallet.domain import SpendingPolicy, balance
from shared.contract.events.gifting import GiftPriced, GiftSent
from shared.contract.events.payments import Platform, PurchaseCompleted, PurchaseRefunded
from shared.contract.events.policy import SpendingPolicySet
from shared.contract.events.users import AgeVerified
from shared.contract.events.wallet import (
    AgeVerificationRecorded,
    CoinsClawedBack,
    CoinsPurchased,
    CoinsSpent,
    SpendRejected,
    SpendRejection,
)
from tests.unit.fake_stores import FakeWalletStore
from tests.unit.fake_unit import handle_batch

USER = "viewer-1"
T0 = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _eid(label: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"test/wallet-handler/{label}")


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeWalletStore:
    fake = FakeWalletStore()
    monkeypatch.setattr(handlers, "store", fake)
    return fake


ADULT = AgeVerified(event_id=_eid("adult"), occurred_at=T0, user_id=USER, adult=True)
BOUGHT = PurchaseCompleted(event_id=_eid("bought"), occurred_at=T0 + SECOND, user_id=USER,
                           purchase_id="pur-1", coins=100, amount_minor=99, currency="USD",
                           platform=Platform.web, region="US", package_id="coins-100",
                           rate_version="packs-1")


def gift(request_id: str = "req-1", coins: int = 30, label: str | None = None) -> GiftPriced:
    return GiftPriced(event_id=_eid(label or request_id), occurred_at=T0 + 2 * SECOND,
                      request_id=request_id, sender_id=USER, stream_id="stream-1",
                      creator_id="creator-1", gift_id="rose", quantity=1, unit_coins=coins,
                      coins=coins, catalog_version=1, points_multiplier=Decimal(1),
                      points=coins)


async def test_a_purchase_then_a_gift_spends_the_coins(store):
    unit = await handle_batch(handlers.handle, [ADULT, BOUGHT, gift()])
    assert [type(event) for event in unit.emitted] == [
        AgeVerificationRecorded, CoinsPurchased, CoinsSpent]
    spent = unit.emitted[-1]
    assert (spent.request_id, spent.coins, spent.balance_after) == ("req-1", 30, 70)
    assert [(use.lot_id, use.coins) for use in spent.lots] == [("pur-1", 30)]
    assert [cause.event for cause in unit.causes] == [ADULT, BOUGHT, gift()]
    [(saved,)] = store.arguments("wallets.save")
    assert [(user_id, balance(wallet)) for user_id, wallet in saved] == [(USER, 70)]
    [(_, at, _)] = store.arguments("save_balances")
    assert at == {USER: gift().occurred_at}


async def test_a_purchase_in_one_batch_funds_a_gift_in_the_next(store):
    await handle_batch(handlers.handle, [ADULT, BOUGHT])
    unit = await handle_batch(handlers.handle, [gift()])
    [spent] = unit.emitted
    assert isinstance(spent, CoinsSpent) and spent.balance_after == 70
    assert store.arguments("wallets.load_many")[-1] == ([USER],)
    assert store.balances[USER] == 70


async def test_a_gift_beyond_the_balance_is_refused(store):
    unit = await handle_batch(handlers.handle, [ADULT, BOUGHT, gift(coins=101)])
    refused = unit.emitted[-1]
    assert isinstance(refused, SpendRejected)
    assert refused.reason is SpendRejection.insufficient_funds
    assert store.balances[USER] == 100


async def test_a_gift_decided_before_is_not_spent_again(store):
    await handle_batch(handlers.handle, [ADULT, BOUGHT, gift()])
    assert store.requests == {(USER, "req-1")}
    assert not store.wallets.states[USER].requests
    unit = await handle_batch(handlers.handle, [gift(label="again")])
    assert unit.emitted == []
    assert store.arguments("load_requests")[-1] == ([(USER, "req-1")],)
    assert store.arguments("wallets.save")[-1] == ([],)
    assert store.balances[USER] == 70


async def test_a_refund_lists_the_gifts_its_lot_funded_in_earlier_batches(store):
    await handle_batch(handlers.handle, [ADULT, BOUGHT, gift()])
    await handle_batch(handlers.handle, [gift("req-2", coins=70)])
    # Spent: the lot holds no coins, so it is a row apart, its gifts too.
    assert store.wallets.states[USER].purchases == ()
    lot = store.purchase_lots[USER, "pur-1"]
    assert (lot.gifts, lot.funded_apart, lot.remaining) == ((), 2, 0)
    refund = PurchaseRefunded(event_id=_eid("refund"), occurred_at=T0 + 3 * SECOND,
                              user_id=USER, purchase_id="pur-1", amount_minor=99,
                              currency="USD")
    unit = await handle_batch(handlers.handle, [refund])
    assert store.arguments("load_lots")[-1] == ([(USER, "pur-1")], [])
    assert store.arguments("load_funded_gifts")[-1] == ([(USER, "pur-1")],)
    clawed = unit.emitted[0]
    assert isinstance(clawed, CoinsClawedBack)
    assert [(g.request_id, g.coins) for g in clawed.funded_gifts] == [("req-1", 30),
                                                                      ("req-2", 70)]


async def test_the_spending_policy_is_kept_and_applies_to_the_rest_of_the_batch(store):
    capped = SpendingPolicySet(event_id=_eid("policy"), occurred_at=T0,
                               rate_version="spending-2", daily_coins=20)
    unit = await handle_batch(handlers.handle, [capped, ADULT, BOUGHT, gift()])
    refused = unit.emitted[-1]
    assert isinstance(refused, SpendRejected)
    assert refused.reason is SpendRejection.spending_limit_reached
    assert store.policy == SpendingPolicy("spending-2", 20, None)
    assert store.arguments("save_policy") == [(store.policy,)]


async def test_events_the_wallet_does_not_act_on_touch_nothing(store):
    sent = GiftSent(event_id=_eid("sent"), occurred_at=T0, request_id="req-1", sender_id=USER,
                    stream_id="stream-1", creator_id="creator-1", coins=30, points=30)
    unit = await handle_batch(handlers.handle, [sent])
    assert unit.emitted == []
    assert store.arguments("wallets.load_many") == [([],)]
    assert store.arguments("wallets.save") == [([],)]
    assert store.arguments("save_policy") == []
