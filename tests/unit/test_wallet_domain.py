"""The wallet's pure decisions, table-driven: given the inputs so far, when one more arrives,
then these wallet events. Every scenario also checks that folding evolve over the emitted
events rebuilds exactly the wallet the decisions worked on."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event as label, given, settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from pydantic import TypeAdapter

from services.wallet.domain import (
    DEFAULT_PRICES,
    PackagePrice,
    PriceList,
    SpendingPolicy,
    Wallet,
    WalletDraft,
    balance,
    cash_value_of_first,
    day_key,
    decide,
    decide_expiry,
    decide_spend,
    evolve,
    fold,
    month_key,
    price_key,
    replay,
    spendable,
)
from shared.consistency import InconsistentHistory
from shared.contract.defaults import COIN_PACKAGES
from shared.contract.envelope import Event, derive_event_id
from shared.contract.events.gifting import GiftPriced
from shared.contract.events.payments import (
    Platform,
    PurchaseChargedBack,
    PurchaseCompleted,
    PurchaseRefunded,
)
from shared.contract.events.promotions import PromoCoinsGranted
from shared.contract.events.users import AgeVerified, LimitPeriod, LimitSetter, SpendingLimitSet
from shared.contract.events.wallet import (
    AgeVerificationRecorded,
    CoinsClawedBack,
    CoinsPurchased,
    CoinsSpent,
    FreezeReason,
    LotKind,
    PromoCoinsCredited,
    PromoCoinsExpired,
    PurchaseRefusal,
    PurchaseRefused,
    SpendingLimitRecorded,
    SpendRejected,
    SpendRejection,
    WalletEvent,
    WalletFrozen,
    WalletUnfrozen,
)

USER = "viewer-1"
T0 = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
LAST_SECOND_OF_MARCH = datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)
FIRST_OF_APRIL = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)
_ids = itertools.count(1)


# -- inputs -------------------------------------------------------------------------------

def _id() -> uuid.UUID:
    return uuid.UUID(int=next(_ids))


def bought(purchase_id: str, coins: int, amount_minor: int | None = None, at: datetime = T0,
           currency: str = "USD") -> PurchaseCompleted:
    return PurchaseCompleted(
        event_id=_id(), occurred_at=at, user_id=USER, purchase_id=purchase_id, coins=coins,
        amount_minor=coins if amount_minor is None else amount_minor, currency=currency,
        platform=Platform.web, region="US", package_id=f"pack-{coins}", rate_version="packs-1")


def listed(event: Event) -> PriceList:
    """The price list the tests decide with: every purchase at "packs-1" is priced as it is
    bought (these tests are about lots; the price list has tests of its own below), and the
    defaults price the rest."""
    if isinstance(event, PurchaseCompleted) and event.rate_version == "packs-1":
        return PriceList.of([(price_key(event), PackagePrice(event.coins, event.amount_minor,
                                                             event.currency))])
    return DEFAULT_PRICES


def granted(grant_id: str, coins: int, expires_at: datetime = T0 + 7 * DAY,
            at: datetime = T0) -> PromoCoinsGranted:
    return PromoCoinsGranted(event_id=_id(), occurred_at=at, user_id=USER, grant_id=grant_id,
                             campaign_id="welcome", coins=coins, expires_at=expires_at)


def verified(adult: bool = True, at: datetime = T0) -> AgeVerified:
    return AgeVerified(event_id=_id(), occurred_at=at, user_id=USER, adult=adult)


def limited(period: LimitPeriod, coins: int | None, set_by: LimitSetter = LimitSetter.user,
            at: datetime = T0) -> SpendingLimitSet:
    return SpendingLimitSet(event_id=_id(), occurred_at=at, user_id=USER, period=period,
                            set_by=set_by, coins=coins)


def gift(request_id: str, coins: int, at: datetime = T0,
         creator_id: str = "creator-1") -> GiftPriced:
    return GiftPriced(
        event_id=_id(), occurred_at=at, request_id=request_id, sender_id=USER,
        stream_id="stream-1", creator_id=creator_id, gift_id="rose", quantity=1,
        unit_coins=coins, coins=coins, catalog_version=1, points_multiplier=Decimal(1),
        points=coins)


def refunded(purchase_id: str, at: datetime = T0) -> PurchaseRefunded:
    return PurchaseRefunded(event_id=_id(), occurred_at=at, user_id=USER,
                            purchase_id=purchase_id, amount_minor=1, currency="USD")


def charged_back(purchase_id: str, at: datetime = T0) -> PurchaseChargedBack:
    return PurchaseChargedBack(event_id=_id(), occurred_at=at, user_id=USER,
                               purchase_id=purchase_id, amount_minor=1, currency="USD")


def again(event: Event) -> Event:
    """The same business fact published again under a new event id."""
    return event.model_copy(update={"event_id": _id()})


ADULT = verified(True)


# -- harness ------------------------------------------------------------------------------

def run(inputs: list[Event], policy: SpendingPolicy | None = None,
        wallet: Wallet | None = None) -> tuple[Wallet, list[WalletEvent]]:
    """Decide each input on the live wallet, apply the result, and check the rebuild."""
    wallet = wallet or Wallet(USER)
    emitted: list[WalletEvent] = []
    for event in inputs:
        decided = decide(wallet, event, policy, listed(event))
        for output in decided:
            assert type(output).model_validate_json(output.model_dump_json()) == output
        wallet = fold(wallet, decided)
        emitted += decided
    return wallet, emitted


def when(history: list[Event], event: Event,
         policy: SpendingPolicy | None = None) -> tuple[Wallet, list[WalletEvent], Wallet]:
    before, earlier = run(history, policy)
    after, emitted = run([event], policy, before)
    assert replay(USER, [*earlier, *emitted]) == after
    return before, emitted, after


def lot_uses(event: CoinsSpent | CoinsClawedBack) -> list[tuple]:
    uses = event.lots if isinstance(event, CoinsSpent) else event.covered_by
    return [(use.lot_id, use.kind.value, use.coins, use.value_minor) for use in uses]


def only(events: list[WalletEvent], kind: type) -> list:
    return [event for event in events if isinstance(event, kind)]


# -- spending: every rejection reason and the order of the checks -------------------------

FROZEN_BY_CHARGEBACK = [ADULT, bought("p1", 100), bought("p2", 100), charged_back("p1")]
FROZEN_FOR_DEBT = [ADULT, bought("p1", 100), gift("r0", 100), refunded("p1")]
DAILY = LimitPeriod.daily
MONTHLY = LimitPeriod.monthly


@pytest.mark.parametrize("history, coins, policy, reason, period", [
    pytest.param(FROZEN_BY_CHARGEBACK, 1, None, SpendRejection.wallet_frozen, None,
                 id="frozen-by-chargeback-even-with-coins"),
    pytest.param(FROZEN_FOR_DEBT, 1, None, SpendRejection.wallet_frozen, None,
                 id="frozen-for-debt"),
    pytest.param([bought("p1", 100)], 1, None, SpendRejection.not_age_verified, None,
                 id="age-unknown"),
    pytest.param([verified(False), bought("p1", 100)], 1, None,
                 SpendRejection.not_age_verified, None, id="minor-on-hold"),
    pytest.param([ADULT, bought("p1", 100), limited(DAILY, 10)], 11, None,
                 SpendRejection.spending_limit_reached, DAILY, id="user-daily-limit"),
    pytest.param([ADULT, bought("p1", 100), limited(MONTHLY, 10, LimitSetter.policy)], 11, None,
                 SpendRejection.spending_limit_reached, MONTHLY, id="per-user-policy-limit"),
    pytest.param([ADULT, bought("p1", 100)], 6, SpendingPolicy("caps-1", daily_coins=5),
                 SpendRejection.spending_limit_reached, DAILY, id="platform-policy-cap"),
    pytest.param([ADULT, bought("p1", 100)], 101, None, SpendRejection.insufficient_funds, None,
                 id="insufficient-funds"),
    pytest.param([ADULT], 1, None, SpendRejection.insufficient_funds, None, id="empty-wallet"),
    # Check order: each row fails every later check too; the earliest one names the reason.
    pytest.param([verified(False), *FROZEN_BY_CHARGEBACK[1:], limited(DAILY, 0)], 10**6, None,
                 SpendRejection.wallet_frozen, None, id="order-frozen-first"),
    pytest.param([verified(False), limited(DAILY, 0)], 10**6, None,
                 SpendRejection.not_age_verified, None, id="order-age-before-limit"),
    pytest.param([ADULT, limited(MONTHLY, 0)], 10**6, None,
                 SpendRejection.spending_limit_reached, MONTHLY, id="order-limit-before-funds"),
    pytest.param([ADULT, limited(DAILY, 0), limited(MONTHLY, 0)], 10**6, None,
                 SpendRejection.spending_limit_reached, DAILY, id="order-daily-before-monthly"),
])
def test_every_rejection_reason_in_check_order(history, coins, policy, reason, period):
    before, emitted, after = when(history, gift("r1", coins), policy)

    assert emitted == [emitted[0]] and isinstance(emitted[0], SpendRejected)
    rejected = emitted[0]
    assert (rejected.reason, rejected.limit_period) == (reason, period)
    assert rejected.balance_after == balance(before)
    assert rejected.spending_policy_version == (policy.rate_version if policy else None)
    assert replace(after, requests=before.requests) == before  # nothing but the request id


def test_a_removed_limit_no_longer_applies():
    history = [ADULT, bought("p1", 100), limited(DAILY, 10), limited(DAILY, None)]
    _, emitted, after = when(history, gift("r1", 50))
    assert only(emitted, CoinsSpent)[0].coins == 50 and after.limits == ()


# -- spending: which lots pay -------------------------------------------------------------

ORDER_HISTORY = [
    ADULT,
    bought("p-old", 100, 200, at=T0 - 2 * DAY),
    granted("g-late", 10, expires_at=T0 + 5 * DAY, at=T0 - 2 * DAY),
    bought("p-new", 100, 100, at=T0 - DAY, currency="EUR"),
    granted("g-soon", 5, expires_at=T0 + DAY, at=T0 - DAY),
    granted("g-soon-2", 5, expires_at=T0 + DAY, at=T0 - DAY),
]


@pytest.mark.parametrize("coins, expected", [
    (3, [("g-soon", "promo", 3, 0)]),
    (12, [("g-soon", "promo", 5, 0), ("g-soon-2", "promo", 5, 0), ("g-late", "promo", 2, 0)]),
    (21, [("g-soon", "promo", 5, 0), ("g-soon-2", "promo", 5, 0), ("g-late", "promo", 10, 0),
          ("p-old", "purchase", 1, 2)]),
    (155, [("g-soon", "promo", 5, 0), ("g-soon-2", "promo", 5, 0), ("g-late", "promo", 10, 0),
           ("p-old", "purchase", 100, 200), ("p-new", "purchase", 35, 35)]),
    (220, [("g-soon", "promo", 5, 0), ("g-soon-2", "promo", 5, 0), ("g-late", "promo", 10, 0),
           ("p-old", "purchase", 100, 200), ("p-new", "purchase", 100, 100)]),
])
def test_spend_order_promo_soonest_expiry_first_then_purchases_fifo(coins, expected):
    before, emitted, after = when(ORDER_HISTORY, gift("r1", coins))

    [spent] = emitted
    assert lot_uses(spent) == expected
    assert [use.currency for use in spent.lots] == [
        None if kind == "promo" else ("USD" if lot == "p-old" else "EUR")
        for lot, kind, _, _ in expected]
    assert spent.balance_after == balance(before) - coins == balance(after) == 220 - coins


def test_one_coin_more_than_the_balance_is_refused():
    _, emitted, _ = when(ORDER_HISTORY, gift("r1", 221))
    assert only(emitted, SpendRejected)[0].reason is SpendRejection.insufficient_funds


# -- spending: the cash value of the coins -------------------------------------------------

@pytest.mark.parametrize("coins, amount_minor, slices, expected", [
    (65, 99, [1] * 65, None),
    (330, 499, [30, 300], [45, 454]),
    (3, 1, [1, 1, 1], [0, 0, 1]),
    (100, 0, [40, 60], [0, 0]),
    (1, 99, [1], [99]),
    (16_500, 24_999, [1, 16_498, 1], [1, 24_996, 2]),
    (10, 10**15, [3, 3, 4], [3 * 10**14, 3 * 10**14, 4 * 10**14]),
])
def test_lot_values_sum_exactly_to_what_was_paid(coins, amount_minor, slices, expected):
    spends = [gift(f"r{n}", size) for n, size in enumerate(slices)]
    _, emitted = run([ADULT, bought("p1", coins, amount_minor), *spends])

    values = [use.value_minor for spent in only(emitted, CoinsSpent) for use in spent.lots]
    assert sum(values) == amount_minor
    if expected is not None:
        assert values == expected
    else:  # 65 coins for 99 cents, one at a time: every coin is worth 1 or 2 cents
        assert set(values) == {1, 2} and values.count(2) == 99 - 65


def test_coins_that_repaid_debt_keep_their_share_of_the_lot_value():
    history = [ADULT, bought("p0", 10), gift("r0", 10), refunded("p0")]  # 10 coins of debt
    _, emitted = run([*history, bought("p1", 65, 99), gift("r1", 55)])

    [purchased] = [event for event in emitted if getattr(event, "purchase_id", "") == "p1"]
    assert purchased.debt_repaid == 10 and purchased.balance_after == 55
    [spent] = only(emitted, CoinsSpent)[-1:]
    # The first 10 coins (worth floor(10 * 99 / 65) = 15) paid the debt; the rest are worth 84.
    assert lot_uses(spent) == [("p1", "purchase", 55, 99 - 15)]


def test_a_gift_across_two_lots_is_valued_per_lot_in_each_currency():
    history = [ADULT, bought("p1", 10, 15, currency="USD"), bought("p2", 10, 13,
                                                                    currency="EUR")]
    _, [spent], _ = when(history, gift("r1", 15))
    assert [(u.lot_id, u.coins, u.value_minor, u.currency) for u in spent.lots] == [
        ("p1", 10, 15, "USD"), ("p2", 5, 6, "EUR")]


# -- spending limits at the boundaries of a UTC day and month -------------------------------

PLENTY = [ADULT, bought("p1", 10_000)]
PLUS_TWO = timezone(timedelta(hours=2))


@pytest.mark.parametrize("limits, policy, spends, outcomes", [
    pytest.param([limited(DAILY, 100)], None,
                 [(LAST_SECOND_OF_MARCH - timedelta(hours=1), 60), (LAST_SECOND_OF_MARCH, 40),
                  (LAST_SECOND_OF_MARCH, 1), (FIRST_OF_APRIL, 100), (FIRST_OF_APRIL, 1)],
                 [None, None, DAILY, None, DAILY], id="daily-equal-allowed-one-more-refused"),
    pytest.param([limited(MONTHLY, 150)], None,
                 [(T0 - DAY, 100), (LAST_SECOND_OF_MARCH, 50), (LAST_SECOND_OF_MARCH, 1),
                  (FIRST_OF_APRIL, 150), (FIRST_OF_APRIL, 1)],
                 [None, None, MONTHLY, None, MONTHLY], id="monthly-across-month-change"),
    pytest.param([limited(DAILY, 100), limited(MONTHLY, 150)], None,
                 [(T0 - DAY, 100), (T0, 50), (T0, 1)],
                 [None, None, MONTHLY], id="new-day-same-month"),
    pytest.param([limited(DAILY, 100)], SpendingPolicy("caps-2", daily_coins=50),
                 [(T0, 50), (T0, 1)], [None, DAILY], id="policy-stricter-than-user"),
    pytest.param([limited(DAILY, 30)], SpendingPolicy("caps-2", daily_coins=50),
                 [(T0, 30), (T0, 1)], [None, DAILY], id="user-stricter-than-policy"),
    pytest.param([limited(DAILY, 40), limited(DAILY, 20, LimitSetter.policy)], None,
                 [(T0, 20), (T0, 1)], [None, DAILY], id="per-user-policy-stricter"),
    pytest.param([], SpendingPolicy("caps-3", monthly_coins=70),
                 [(T0, 70), (T0, 1)], [None, MONTHLY], id="policy-monthly-cap"),
    pytest.param([limited(DAILY, 100)], None,
                 [(FIRST_OF_APRIL, 100), (LAST_SECOND_OF_MARCH, 1)], [None, DAILY],
                 id="late-timestamp-counts-against-current-day"),
    pytest.param([limited(DAILY, 100)], None,
                 [(LAST_SECOND_OF_MARCH - timedelta(hours=1), 100),
                  (datetime(2026, 4, 1, 1, 30, tzinfo=PLUS_TWO), 1)], [None, DAILY],
                 id="day-is-the-utc-day-whatever-the-offset"),
])
def test_spending_limits_per_utc_day_and_month(limits, policy, spends, outcomes):
    gifts = [gift(f"r{n}", coins, at=at) for n, (at, coins) in enumerate(spends)]
    _, emitted = run([*PLENTY, *limits, *gifts], policy)

    decisions = [event for event in emitted if isinstance(event, CoinsSpent | SpendRejected)]
    assert [getattr(event, "limit_period", None) for event in decisions] == outcomes
    for event, outcome in zip(decisions, outcomes, strict=True):
        assert isinstance(event, CoinsSpent if outcome is None else SpendRejected)
        assert event.spending_policy_version == (policy.rate_version if policy else None)


# -- promo coins expire by event time -----------------------------------------------------

EXPIRES = T0 + DAY
MICROSECOND = timedelta(microseconds=1)


@pytest.mark.parametrize("history, event, expected", [
    pytest.param([ADULT, granted("g1", 10, EXPIRES)], gift("r1", 5, at=EXPIRES - MICROSECOND),
                 [("spent", [("g1", "promo", 5, 0)], 5)], id="spend-just-before-expiry"),
    pytest.param([ADULT, granted("g1", 10, EXPIRES)], gift("r1", 5, at=EXPIRES),
                 [("expired", "g1", 10, 0), ("rejected", "insufficient_funds")],
                 id="spend-at-expires-at"),
    pytest.param([ADULT, granted("g1", 10, EXPIRES), bought("p1", 10)], gift("r1", 5, at=EXPIRES),
                 [("expired", "g1", 10, 10), ("spent", [("p1", "purchase", 5, 5)], 5)],
                 id="purchased-coins-pay-once-promo-lapsed"),
    pytest.param([ADULT, granted("g1", 10, EXPIRES), gift("r0", 4)], verified(True, at=EXPIRES),
                 [("expired", "g1", 6, 0)], id="any-input-moves-time-only-remaining-expires"),
    pytest.param([ADULT, granted("g1", 10, EXPIRES), gift("r0", 10)], verified(False, at=EXPIRES),
                 [("age", False)], id="fully-spent-promo-has-nothing-to-expire"),
    pytest.param([ADULT, granted("g2", 3, EXPIRES + DAY), granted("g1", 2, EXPIRES),
                  bought("p1", 1)], gift("r1", 1, at=EXPIRES + DAY),
                 [("expired", "g1", 2, 4), ("expired", "g2", 3, 1),
                  ("spent", [("p1", "purchase", 1, 1)], 0)], id="soonest-expiry-first"),
    pytest.param([], granted("g1", 10, expires_at=T0, at=T0), [],
                 id="grant-expiring-at-its-own-time-is-ignored"),
    pytest.param([], granted("g1", 10, expires_at=T0 - DAY, at=T0), [],
                 id="grant-already-expired-is-ignored"),
])
def test_promo_coins_expire_by_event_time(history, event, expected):
    _, emitted, _ = when(history, event)

    def summary(output: WalletEvent) -> tuple:
        match output:
            case PromoCoinsExpired():
                return "expired", output.grant_id, output.coins, output.balance_after
            case CoinsSpent():
                return "spent", lot_uses(output), output.balance_after
            case SpendRejected():
                return "rejected", output.reason.value
            case AgeVerificationRecorded():
                return "age", output.adult
        raise AssertionError(output)

    assert [summary(output) for output in emitted] == expected
    for output in only(emitted, PromoCoinsExpired):  # caused by the input that moved time
        assert output.causation_id == event.event_id
        assert output.event_id == derive_event_id(event.event_id, f"expire:{output.grant_id}")


def test_deciding_on_a_wallet_with_lapsed_promo_coins_is_a_caller_bug():
    wallet, _ = run([ADULT, granted("g1", 10, EXPIRES)])
    with pytest.raises(AssertionError, match="decide_expiry"):
        decide_spend(wallet, gift("r1", 5, at=EXPIRES))


# -- clawbacks: refunds and chargebacks ---------------------------------------------------

@pytest.mark.parametrize("history, clawback, then", [
    pytest.param([ADULT, bought("p1", 100)], refunded("p1"),
                 dict(coins_unspent=100, covered=[], funded=[], balance=0, debt=0, freeze=None),
                 id="refund-nothing-spent"),
    pytest.param([ADULT, bought("p1", 100)], charged_back("p1"),
                 dict(coins_unspent=100, covered=[], funded=[], balance=0, debt=0,
                      freeze=FreezeReason.chargeback), id="chargeback-nothing-spent-freezes"),
    pytest.param([ADULT, bought("p1", 100, 200), gift("r1", 30), bought("p2", 100, 300)],
                 refunded("p1"),
                 dict(coins_unspent=70, covered=[("p2", "purchase", 30, 90)],
                      funded=[("r1", "creator-1", 30)], balance=70, debt=0, freeze=None),
                 id="partly-spent-covered-by-next-purchase"),
    pytest.param([ADULT, bought("p1", 100), gift("r1", 40), granted("g1", 20), bought("p2", 10)],
                 refunded("p1"),
                 dict(coins_unspent=60,
                      covered=[("p2", "purchase", 10, 10), ("g1", "promo", 20, 0)],
                      funded=[("r1", "creator-1", 40)], balance=-10, debt=10,
                      freeze=FreezeReason.debt), id="cover-purchases-first-then-promo-then-debt"),
    pytest.param([ADULT, bought("p1", 100), gift("r1", 100)], refunded("p1"),
                 dict(coins_unspent=0, covered=[], funded=[("r1", "creator-1", 100)],
                      balance=-100, debt=100, freeze=FreezeReason.debt),
                 id="fully-spent-no-other-coins-debt"),
    pytest.param([ADULT, bought("p1", 100), gift("r1", 100), bought("p2", 150)], refunded("p1"),
                 dict(coins_unspent=0, covered=[("p2", "purchase", 100, 100)],
                      funded=[("r1", "creator-1", 100)], balance=50, debt=0, freeze=None),
                 id="fully-spent-other-coins-cover-it"),
    pytest.param([ADULT, bought("p1", 50), bought("p2", 50), gift("r1", 30, creator_id="a"),
                  gift("r2", 40, creator_id="b"), gift("r3", 10, creator_id="a")],
                 charged_back("p2"),
                 dict(coins_unspent=20, covered=[], funded=[("r2", "b", 20), ("r3", "a", 10)],
                      balance=-30, debt=30, freeze=FreezeReason.chargeback),
                 id="funded-gifts-name-only-this-lots-coins"),
    pytest.param([*FROZEN_BY_CHARGEBACK, bought("p3", 10)], refunded("p2"),
                 dict(coins_unspent=100, covered=[], funded=[], balance=10, debt=0, freeze=None),
                 id="refund-on-chargeback-frozen-wallet-adds-no-freeze"),
    pytest.param([*FROZEN_FOR_DEBT, bought("p2", 30)], charged_back("p2"),
                 dict(coins_unspent=0, covered=[], funded=[], balance=-100, debt=100,
                      freeze=FreezeReason.chargeback), id="chargeback-outranks-debt-freeze"),
])
def test_clawback_takes_the_whole_purchase_back(history, clawback, then):
    before, emitted, after = when(history, clawback)

    clawed = only(emitted, CoinsClawedBack)[0]
    lot = before.purchase(clawback.purchase_id)
    assert (clawed.coins, clawed.amount_minor, clawed.currency) == (
        lot.coins, lot.amount_minor, lot.currency)
    assert clawed.kind.value == ("chargeback" if isinstance(clawback, PurchaseChargedBack)
                                 else "refund")
    assert clawed.coins_unspent == then["coins_unspent"]
    assert lot_uses(clawed) == then["covered"]
    assert [(g.request_id, g.creator_id, g.coins) for g in clawed.funded_gifts] == then["funded"]
    assert clawed.balance_after == balance(after) == then["balance"] == balance(before) - lot.coins
    assert after.debt == then["debt"]
    assert [event.reason for event in only(emitted, WalletFrozen)] == (
        [then["freeze"].value] if then["freeze"] else [])
    assert clawed.frozen is after.frozen


@pytest.mark.parametrize("history, clawback", [
    pytest.param([ADULT, bought("p1", 100)], refunded("p-unknown"), id="unknown-purchase"),
    pytest.param([ADULT, bought("p1", 100), refunded("p1")], refunded("p1"), id="refund-twice"),
    pytest.param([ADULT, bought("p1", 100), refunded("p1")], charged_back("p1"),
                 id="chargeback-after-refund"),
    pytest.param([ADULT, bought("p1", 100), charged_back("p1")], refunded("p1"),
                 id="refund-after-chargeback"),
])
def test_a_clawback_of_nothing_decides_nothing(history, clawback):
    before, emitted, after = when(history, clawback)
    assert emitted == [] and after == before


# -- freeze and unfreeze ------------------------------------------------------------------

@pytest.mark.parametrize("history, then_frozen, then_debt, last_types", [
    pytest.param([*FROZEN_FOR_DEBT, bought("p2", 60)], FreezeReason.debt, 40,
                 [CoinsPurchased], id="part-repaid-stays-frozen"),
    pytest.param([*FROZEN_FOR_DEBT, bought("p2", 60), bought("p3", 65)], None, 0,
                 [CoinsPurchased, WalletUnfrozen], id="fully-repaid-unfreezes"),
    pytest.param([*FROZEN_FOR_DEBT, granted("g1", 100)], None, 0,
                 [PromoCoinsCredited, WalletUnfrozen], id="promo-grant-repays-debt-too"),
    pytest.param([ADULT, bought("p1", 100), gift("r0", 100), charged_back("p1"),
                  bought("p2", 500)], FreezeReason.chargeback, 0, [CoinsPurchased],
                 id="chargeback-freeze-stays-after-repayment"),
])
def test_a_debt_freeze_lifts_once_repaid_a_chargeback_freeze_stays(
        history, then_frozen, then_debt, last_types):
    before, emitted, after = when(history[:-1], history[-1])
    assert (after.frozen_reason, after.debt) == (then_frozen, then_debt)
    assert [type(event) for event in emitted] == last_types
    credited = emitted[0]
    assert credited.debt_repaid == before.debt - after.debt
    assert credited.balance_after == balance(after)


def test_an_unfrozen_wallet_spends_the_coins_left_after_repaying():
    history = [*FROZEN_FOR_DEBT, bought("p2", 130, 200)]
    _, [spent], after = when(history, gift("r1", 30))
    # The first 100 coins of p2 (worth floor(100 * 200 / 130) = 153) paid the debt.
    assert lot_uses(spent) == [("p2", "purchase", 30, 200 - 153)]
    assert balance(after) == 0 and after.debt == 0


# -- idempotency at the business level -----------------------------------------------------

PURCHASE = bought("p1", 100)
GRANT = granted("g1", 10)
SPEND = gift("r1", 10)
TOO_MUCH = gift("r2", 10**6)
LIMIT = limited(DAILY, 50)
NO_LIMIT = limited(MONTHLY, None)


@pytest.mark.parametrize("history, duplicate", [
    pytest.param([PURCHASE], again(PURCHASE), id="purchase"),
    pytest.param([PURCHASE, refunded("p1")], again(PURCHASE), id="purchase-after-its-refund"),
    pytest.param([GRANT], again(GRANT), id="grant"),
    pytest.param([ADULT, PURCHASE, SPEND], again(SPEND), id="spent-request"),
    pytest.param([ADULT, PURCHASE, TOO_MUCH], again(TOO_MUCH), id="rejected-request"),
    pytest.param([ADULT], again(ADULT), id="age"),
    pytest.param([LIMIT], again(LIMIT), id="limit"),
    pytest.param([], NO_LIMIT, id="removing-an-absent-limit"),
    pytest.param([ADULT, PURCHASE, SPEND], SPEND, id="same-event-redelivered"),
])
def test_a_repeated_fact_decides_nothing(history, duplicate):
    before, emitted, after = when(history, duplicate)
    assert emitted == [] and after == before


def test_decisions_are_deterministic_with_ids_derived_from_the_input():
    wallet, _ = run([ADULT, bought("p1", 100), granted("g1", 5, EXPIRES)])
    spend = gift("r1", 50, at=EXPIRES)
    first, second = decide(wallet, spend), decide(wallet, spend)
    assert first == second
    assert [event.event_id for event in first] == [
        derive_event_id(spend.event_id, "expire:g1"), derive_event_id(spend.event_id, "debit")]
    assert all(event.causation_id == spend.event_id for event in first)
    assert all(event.occurred_at == spend.occurred_at for event in first)


def test_facts_are_recorded_as_wallet_events():
    _, emitted = run([verified(False), limited(DAILY, 10, LimitSetter.policy), verified(True)])
    assert [(type(e), getattr(e, "adult", None)) for e in emitted] == [
        (AgeVerificationRecorded, False), (SpendingLimitRecorded, None),
        (AgeVerificationRecorded, True)]
    assert emitted[1].model_dump(include={"period", "set_by", "coins"}) == {
        "period": DAILY, "set_by": LimitSetter.policy, "coins": 10}


# -- replay -------------------------------------------------------------------------------

SCENARIO = [
    ADULT, limited(DAILY, 500), bought("p1", 65, 99), granted("g1", 20, EXPIRES),
    gift("r1", 30), bought("p2", 330, 499, currency="EUR"), gift("r2", 100),
    gift("r3", 10**4), refunded("p1"), verified(True, at=EXPIRES), gift("r4", 400, at=EXPIRES),
    charged_back("p2", at=EXPIRES), bought("p3", 16_500, 24_999, at=EXPIRES),
]


def test_replaying_the_wallets_own_events_rebuilds_it_exactly():
    live, emitted = run(SCENARIO)
    assert replay(USER, emitted) == live
    assert len({event.event_id for event in emitted}) == len(emitted)
    assert balance(live) == (sum(e.coins for e in emitted if isinstance(
        e, CoinsPurchased | PromoCoinsCredited)) - sum(e.coins for e in emitted if isinstance(
            e, CoinsSpent | CoinsClawedBack | PromoCoinsExpired)))


SNAPSHOT = TypeAdapter(Wallet)
"""How shared/runtime/aggregates.py stores a wallet between batches."""


def test_a_wallet_snapshot_round_trips_through_json():
    live, _ = run(SCENARIO)
    assert SNAPSHOT.validate_json(SNAPSHOT.dump_json(live)) == live


@pytest.mark.parametrize("tamper", [
    pytest.param(lambda events: events[:4] + events[5:], id="an-event-removed"),
    pytest.param(lambda events: events[:3] + events[2:], id="an-event-duplicated"),
    pytest.param(lambda events: [e.model_copy(update={"balance_after": e.balance_after + 1})
                                 if isinstance(e, CoinsSpent) else e for e in events],
                 id="a-balance-altered"),
])
def test_replay_refuses_a_log_that_does_not_add_up(tamper):
    _, emitted = run(SCENARIO)
    with pytest.raises(InconsistentHistory):
        replay(USER, tamper(emitted))


def test_a_balance_that_does_not_add_up_is_named_with_the_balance_replay_gives():
    _, emitted = run(SCENARIO)
    spent = next(event for event in emitted if isinstance(event, CoinsSpent))
    altered = spent.model_copy(update={"balance_after": spent.balance_after + 1})
    with pytest.raises(InconsistentHistory) as refused:
        replay(USER, [altered if event is spent else event for event in emitted])
    assert str(refused.value) == (f"wallet.coins_spent {spent.event_id} says balance "
                                  f"{spent.balance_after + 1}, replay gives {spent.balance_after}")


@settings(max_examples=300, deadline=None)
@given(at=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
       offset_minutes=st.sampled_from([0, 0, 1, -1, 59, -59, 330, -600, 23 * 60 + 59]),
       parsed=st.booleans())
def test_window_keys_are_the_utc_day_and_month(at, offset_minutes, parsed):
    at = at.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    if parsed:  # as the codec decodes event times, with pydantic's own tzinfo
        at = TypeAdapter(datetime).validate_json(TypeAdapter(datetime).dump_json(at))
    utc_day = at.astimezone(UTC).date().isoformat()
    for _ in range(2):  # converted, then remembered
        assert (day_key(at), month_key(at)) == (utc_day, utc_day[:7])


def test_evolve_refuses_another_users_event():
    _, [credited] = run([bought("p1", 10)])
    with pytest.raises(InconsistentHistory):
        evolve(Wallet("someone-else"), credited)


# -- properties over random histories ----------------------------------------------------

class WalletMachine(RuleBasedStateMachine):
    """Random purchases, grants, gifts, refunds, chargebacks, facts and time; after every
    step the invariants of product.md hold and a rebuild equals the live wallet."""

    def __init__(self) -> None:
        super().__init__()
        self.wallet = Wallet(USER)
        self.log: list[WalletEvent] = []
        self.now = T0
        self.policy: SpendingPolicy | None = None
        self.purchase_ids: list[str] = []
        self.last_input: Event | None = None
        self.serial = 0

    def _next(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial}"

    def feed(self, event: Event) -> None:
        wallet = self.wallet
        for output in decide(wallet, event, self.policy, listed(event)):
            if isinstance(output, CoinsSpent):  # never beyond the balance at that moment
                assert 0 < output.coins <= balance(wallet) and not wallet.frozen
                assert wallet.adult is True
            label(type(output).__name__ + (f":{output.reason.value}"
                                           if isinstance(output, SpendRejected) else ""))
            wallet = evolve(wallet, output)
            self.log.append(output)
        self.wallet = wallet
        self.last_input = event

    @initialize(adult=st.sampled_from([True, True, True, False, None]))
    def verify_first(self, adult):
        """Mostly adults, so that most histories reach the limit and funds checks."""
        if adult is not None:
            self.feed(verified(adult, self.now))

    @rule(seconds=st.integers(0, 2 * 86_400))
    def tick(self, seconds):
        self.now += timedelta(seconds=seconds)

    @rule(coins=st.integers(1, 500), amount_minor=st.integers(0, 999),
          currency=st.sampled_from(["USD", "EUR"]))
    def buy(self, coins, amount_minor, currency):
        purchase_id = self._next("p")
        self.purchase_ids.append(purchase_id)
        self.feed(bought(purchase_id, coins, amount_minor, self.now, currency))

    @rule(package=st.sampled_from(COIN_PACKAGES), coins=st.integers(1, 20_000),
          amount_minor=st.integers(0, 30_000), rate_version=st.sampled_from(
              ["packs-2026-01", "packs-2026-01", "packs-unknown"]),
          platform=st.sampled_from(list(Platform)), region=st.sampled_from(["US", "US", "FR"]))
    def buy_off_the_list(self, package, coins, amount_minor, rate_version, platform, region):
        """A purchase at the default price list's version with made-up figures: credited only
        if they happen to be the listed ones, else refused with nothing credited."""
        package_id, listed_platform, listed_coins, listed_amount = package
        purchase = PurchaseCompleted(
            event_id=_id(), occurred_at=self.now, user_id=USER,
            purchase_id=self._next("p"), coins=coins, amount_minor=amount_minor,
            currency="USD", platform=platform, region=region, package_id=package_id,
            rate_version=rate_version)
        swept = fold(self.wallet, decide_expiry(self.wallet, purchase))
        start = len(self.log)
        self.feed(purchase)
        outputs = [e for e in self.log[start:] if isinstance(e, CoinsPurchased | PurchaseRefused)]
        if rate_version != "packs-2026-01":
            expected = PurchaseRefusal.unknown_rate_version
        elif (platform.value, region) != (listed_platform, "US"):
            expected = PurchaseRefusal.unknown_package
        elif coins != listed_coins:
            expected = PurchaseRefusal.coins_mismatch
        elif amount_minor != listed_amount:
            expected = PurchaseRefusal.price_mismatch
        else:
            expected = None
        if expected is None:
            self.purchase_ids.append(purchase.purchase_id)
            assert isinstance(outputs[0], CoinsPurchased)
            return
        [refused] = outputs
        assert isinstance(refused, PurchaseRefused) and refused.reason is expected
        assert refused.balance_after == balance(swept)
        assert self.wallet == swept

    @rule(coins=st.integers(1, 200), ttl_s=st.integers(0, 3 * 86_400))
    def grant(self, coins, ttl_s):
        self.feed(granted(self._next("g"), coins, self.now + timedelta(seconds=ttl_s), self.now))

    @rule(coins=st.integers(1, 400), creator_id=st.sampled_from(["c1", "c2"]))
    def spend(self, coins, creator_id):
        self.feed(gift(self._next("r"), coins, self.now, creator_id))

    @precondition(lambda self: balance(self.wallet) > 0)
    @rule(extra=st.sampled_from([0, 0, 1]))
    def spend_the_whole_balance(self, extra):
        """Exactly the balance (accepted unless a gate says no) or one coin more (refused)."""
        self.feed(gift(self._next("r"), balance(self.wallet) + extra, self.now, "c1"))

    @rule(pick=st.integers(0, 30), chargeback=st.sampled_from([False, False, True]))
    def claw_back(self, pick, chargeback):
        ids = ["p-unknown", *self.purchase_ids]
        purchase_id = ids[-1 - pick % len(ids)]  # most often the latest purchase
        self.feed((charged_back if chargeback else refunded)(purchase_id, self.now))

    @rule(adult=st.sampled_from([True, True, True, False]))
    def verify(self, adult):
        self.feed(verified(adult, self.now))

    @rule(period=st.sampled_from(list(LimitPeriod)), set_by=st.sampled_from(list(LimitSetter)),
          coins=st.none() | st.integers(0, 3000))
    def limit(self, period, set_by, coins):
        self.feed(limited(period, coins, set_by, self.now))

    @rule(daily=st.none() | st.integers(0, 2000), monthly=st.none() | st.integers(0, 6000))
    def set_policy(self, daily, monthly):
        self.policy = SpendingPolicy(self._next("caps-"), daily, monthly)

    @precondition(lambda self: self.last_input is not None)
    @rule()
    def redeliver_the_last_fact(self):
        last = again(self.last_input)
        outputs = decide(self.wallet, last, self.policy, listed(last))
        if isinstance(last, PurchaseCompleted) and self.wallet.purchase(last.purchase_id) is None:
            # A refusal keeps nothing: the same purchase republished is refused again.
            assert [type(output) for output in outputs] == [PurchaseRefused]
        else:
            assert outputs == []

    @invariant()
    def coins_are_conserved(self):
        def total(*kinds: type) -> int:
            return sum(event.coins for event in self.log if isinstance(event, kinds))

        credited = total(CoinsPurchased, PromoCoinsCredited)
        taken = total(CoinsSpent) + total(CoinsClawedBack) + total(PromoCoinsExpired)
        assert credited - taken == balance(self.wallet)

    @invariant()
    def only_a_clawback_takes_a_wallet_below_zero(self):
        wallet = self.wallet
        assert spendable(wallet) >= 0 and wallet.debt >= 0
        if balance(wallet) < 0 or wallet.debt > 0:
            assert any(isinstance(event, CoinsClawedBack) for event in self.log)
            assert wallet.frozen and spendable(wallet) == 0

    @invariant()
    def lots_are_valued_exactly(self):
        values: dict[str, int] = {}
        for event in self.log:
            uses = event.lots if isinstance(event, CoinsSpent) else (
                event.covered_by if isinstance(event, CoinsClawedBack) else ())
            for use in uses:
                if use.kind is LotKind.purchase:
                    values[use.lot_id] = values.get(use.lot_id, 0) + use.value_minor
        for lot in self.wallet.purchases:
            assert 0 <= lot.used <= lot.coins
            repaid = next(e.debt_repaid for e in self.log
                          if isinstance(e, CoinsPurchased) and e.purchase_id == lot.purchase_id)
            assert values.get(lot.purchase_id, 0) + cash_value_of_first(lot, repaid) == \
                cash_value_of_first(lot, lot.used)

    @invariant()
    def a_rebuild_equals_the_live_wallet(self):
        assert replay(USER, self.log) == self.wallet
        assert SNAPSHOT.validate_json(SNAPSHOT.dump_json(self.wallet)) == self.wallet
        assert len({event.event_id for event in self.log}) == len(self.log)


TestWalletMachine = WalletMachine.TestCase
TestWalletMachine.settings = settings(max_examples=300, stateful_step_count=50, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])


class LongReplayMachine(WalletMachine):
    """The same random histories, folded into one draft kept for the whole history, as a long
    replay keeps one per wallet: its running balance equals a recount after every event, and
    it freezes into the live wallet."""

    def __init__(self) -> None:
        super().__init__()
        self.draft = WalletDraft.of(Wallet(USER))
        self.applied = 0

    @invariant()
    def the_running_balance_equals_a_recount(self):
        for event in self.log[self.applied:]:
            self.draft.apply(event)
            assert self.draft.running_balance == balance(self.draft)
        self.applied = len(self.log)
        assert self.draft.freeze() == self.wallet
        assert WalletDraft.of(self.wallet).running_balance == balance(self.wallet)


TestLongReplayMachine = LongReplayMachine.TestCase
TestLongReplayMachine.settings = settings(max_examples=100, stateful_step_count=50,
                                          deadline=None,
                                          suppress_health_check=[HealthCheck.too_slow])
