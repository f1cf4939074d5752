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
from services.wallet.domain import PackagePrice, SpendingPolicy, balance
from services.wallet.projection import WalletProjection
from shared.contract.codec import encode
from shared.contract.events.deadletter import DeadLetterReason
from shared.contract.events.gifting import GiftPriced, GiftSent
from shared.contract.events.payments import Platform, PurchaseCompleted, PurchaseRefunded
from shared.contract.events.policy import CoinPackagePriced, SpendingPolicySet
from shared.contract.events.users import AgeVerified
from shared.contract.events.wallet import (
    AgeVerificationRecorded,
    CoinsClawedBack,
    CoinsPurchased,
    CoinsSpent,
    PurchaseRefusal,
    PurchaseRefused,
    SpendRejected,
    SpendRejection,
)
from shared.contract.topics import topic_of
from tests.unit.fake_stores import FakeWalletStore
from tests.unit.fake_unit import handle_batch
from tests.unit.test_audit import record

USER = "viewer-1"
T0 = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _eid(label: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"test/wallet-handler/{label}")


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeWalletStore:
    fake = FakeWalletStore()
    # BOUGHT's package, as a price list published before would have left it.
    fake.prices[("packs-1", "coins-100", "web", "US")] = PackagePrice(100, 99, "USD")
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


def priced(label: str, rate_version: str = "packs-2", coins: int = 500,
           amount_minor: int = 399) -> CoinPackagePriced:
    return CoinPackagePriced(event_id=_eid(label), occurred_at=T0, rate_version=rate_version,
                             package_id="coins-500", platform="web", region="US", coins=coins,
                             amount_minor=amount_minor, currency="USD")


def bought_at(label: str, rate_version: str = "packs-2", coins: int = 500,
              amount_minor: int = 399, purchase_id: str = "pur-2") -> PurchaseCompleted:
    return PurchaseCompleted(event_id=_eid(label), occurred_at=T0 + SECOND, user_id=USER,
                             purchase_id=purchase_id, coins=coins, amount_minor=amount_minor,
                             currency="USD", platform=Platform.web, region="US",
                             package_id="coins-500", rate_version=rate_version)


async def test_a_mispriced_purchase_is_refused_and_credits_nothing(store):
    mispriced = bought_at("17500-for-a-cent", rate_version="packs-made-up", coins=17500,
                          amount_minor=1)
    unit = await handle_batch(handlers.handle, [ADULT, mispriced, gift(coins=1)])
    refused = unit.emitted[1]
    assert isinstance(refused, PurchaseRefused)
    assert refused.reason is PurchaseRefusal.unknown_rate_version
    assert (refused.coins, refused.amount_minor, refused.balance_after) == (17500, 1, 0)
    assert refused.listed_coins is None
    assert isinstance(unit.emitted[2], SpendRejected)  # the refused coins fund nothing
    assert store.balances[USER] == 0 and store.purchase_lots == {}
    assert store.arguments("load_prices") == [(["packs-made-up"],)]


async def test_a_new_price_applies_to_the_rest_of_the_batch_and_is_stored(store):
    unit = await handle_batch(handlers.handle, [priced("p2"), bought_at("b2")])
    [credited] = unit.emitted
    assert isinstance(credited, CoinsPurchased) and credited.coins == 500
    assert store.arguments("save_prices") == [(
        [("packs-2", "coins-500", "web", "US", 500, 399, "USD")],)]
    later = await handle_batch(handlers.handle, [
        bought_at("b3", amount_minor=1, purchase_id="pur-3")])
    [refused] = later.emitted
    assert isinstance(refused, PurchaseRefused)
    assert refused.reason is PurchaseRefusal.price_mismatch
    assert (refused.listed_coins, refused.listed_amount_minor, refused.listed_currency) == (
        500, 399, "USD")


async def test_a_price_that_contradicts_the_list_is_dead_lettered_and_the_first_stands(store):
    await handle_batch(handlers.handle, [priced("p2")])
    again = priced("p2-again")
    conflicting = priced("p2-cheaper", amount_minor=1)
    unit = await handle_batch(handlers.handle, [again, conflicting, bought_at("b2")])
    assert [(refused.event, reason) for refused, reason, _ in unit.refused] == [
        (conflicting, DeadLetterReason.policy_conflict)]
    assert "399 USD" in unit.refused[0][2]
    assert store.arguments("save_prices")[-1] == ([],)
    assert store.prices[("packs-2", "coins-500", "web", "US")] == PackagePrice(500, 399, "USD")
    [credited] = unit.emitted
    assert isinstance(credited, CoinsPurchased) and credited.amount_minor == 399


async def test_a_default_price_cannot_be_changed(store):
    cheaper = CoinPackagePriced(event_id=_eid("cheap-default"), occurred_at=T0,
                                rate_version="packs-2026-01", package_id="coins-17500",
                                platform="web", region="US", coins=17500, amount_minor=1,
                                currency="USD")
    unit = await handle_batch(handlers.handle, [cheaper])
    assert [reason for _, reason, _ in unit.refused] == [DeadLetterReason.policy_conflict]
    assert store.arguments("save_prices") == [([],)]


async def test_a_refund_of_a_refused_purchase_claws_nothing_back(store):
    mispriced = bought_at("wrong-coins", rate_version="packs-1", coins=1000,
                          purchase_id="pur-x")
    mispriced = mispriced.model_copy(update={"package_id": "coins-100", "amount_minor": 99})
    unit = await handle_batch(handlers.handle, [ADULT, BOUGHT, mispriced])
    refused = unit.emitted[-1]
    assert isinstance(refused, PurchaseRefused)
    assert refused.reason is PurchaseRefusal.coins_mismatch
    refund = PurchaseRefunded(event_id=_eid("refund-x"), occurred_at=T0 + 2 * SECOND,
                              user_id=USER, purchase_id="pur-x", amount_minor=99,
                              currency="USD")
    later = await handle_batch(handlers.handle, [refund])
    assert later.emitted == []
    assert store.balances[USER] == 100


async def test_a_rebuild_keeps_the_prices_the_handler_stored(store):
    policy_events = [priced("p2"), priced("p2-cheaper", amount_minor=1), priced("p2-again"),
                     priced("p3", rate_version="packs-3")]
    first = await handle_batch(handlers.handle, policy_events[:2])
    second = await handle_batch(handlers.handle, [*policy_events[2:], bought_at("b2")])
    rebuild = WalletProjection()
    offsets: dict = {}
    for event in [*policy_events, *first.emitted, *second.emitted]:
        rebuild.apply(record(topic_of(event).name, 0, offsets, encode(event)))
    rows = rebuild.rows()["coin_package_prices"].rows
    stored = {key: price for key, price in store.prices.items()
              if key[0] != "packs-1"}  # the fixture's, stored before
    assert {tuple(row[:4]): PackagePrice(*row[4:]) for row in rows} == stored
    assert len(rows) == 2  # packs-2 once, at its first price; packs-3
