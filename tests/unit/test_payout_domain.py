"""The payout service's pure decisions: given events, when an input arrives, then outputs.

Defaults mirror the product's policy table: share 0.5 diamonds per coin, 1 diamond = 0.5 US
cents, minimum 50 USD, maximum 1,000 USD per day, 15 days' hold.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from services.payout.domain import (
    CashRate,
    Creator,
    HoldPolicy,
    InconsistentHistory,
    PayoutLimits,
    PolicyInEffect,
    PolicyMissing,
    SharePolicy,
    clawed_diamonds,
    convert,
    creators_funded,
    decide,
    decide_payout,
    diamonds_for,
    evolve,
    rebuild,
    statement,
)
from shared.contract.envelope import Event
from shared.contract.events.creators import PayoutFailed, PayoutRequested, PayoutSucceeded
from shared.contract.events.payout import (
    CreatorVerificationRecorded,
    DiamondsClawedBack,
    DiamondsEarned,
    PayoutEvent,
    PayoutPosted,
    PayoutRejected,
    PayoutRejection,
    PayoutReleased,
    PayoutReserved,
)
from shared.contract.events.policy import (
    CreatorShareSet,
    DiamondCashRateSet,
    HoldPeriodSet,
    PayoutLimitsSet,
)
from shared.contract.events.users import CreatorVerified
from shared.contract.events.wallet import (
    ClawbackKind,
    CoinsClawedBack,
    CoinsSpent,
    FundedGift,
    LotKind,
    LotUse,
)

CREATOR = "creator-1"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOLD_S = 15 * 86400
MATURE = T0 + timedelta(seconds=HOLD_S)
"""When a gift earned at T0 becomes withdrawable."""

SHARE = SharePolicy(Decimal("0.5"), "share-1")
HOLD = HoldPolicy(HOLD_S, "hold-1")
USD = CashRate("USD", Decimal("0.5"), fee_ppm=0, fee_fixed_minor=0, rate_version="cash-1")
USD_LIMITS = PayoutLimits("USD", min_minor=5000, max_per_day_minor=100_000,
                          rate_version="limits-1")
EUR = CashRate("EUR", Decimal("0.45"), fee_ppm=0, fee_fixed_minor=0, rate_version="cash-eur")
POLICY = PolicyInEffect(SHARE, HOLD, {"USD": USD, "EUR": EUR}, {"USD": USD_LIMITS})


# --- input events -------------------------------------------------------------------------

def _id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, parts)))


def spent(request_id: str, coins: int, at: datetime = T0, creator: str = CREATOR,
          sender: str = "viewer-1", name: str = "") -> CoinsSpent:
    lot = LotUse(lot_id="pur-0", kind=LotKind.purchase, coins=coins, value_minor=0)
    return CoinsSpent(event_id=_id("spent", request_id, name), occurred_at=at, user_id=sender,
                      request_id=request_id, creator_id=creator, stream_id="stream-1",
                      gift_id="rose", coins=coins, lots=(lot,), balance_after=0)


def verified(flag: bool = True, at: datetime = T0, creator: str = CREATOR) -> CreatorVerified:
    return CreatorVerified(event_id=_id("verified", creator, flag, at), occurred_at=at,
                           user_id=creator, verified=flag)


def requested(payout_id: str, diamonds: int, at: datetime = MATURE, currency: str = "USD",
              name: str = "") -> PayoutRequested:
    return PayoutRequested(event_id=_id("requested", payout_id, name), occurred_at=at,
                           creator_id=CREATOR, payout_id=payout_id, diamonds=diamonds,
                           currency=currency, method="bank")


def succeeded(payout_id: str, at: datetime = MATURE, name: str = "") -> PayoutSucceeded:
    return PayoutSucceeded(event_id=_id("succeeded", payout_id, name), occurred_at=at,
                           creator_id=CREATOR, payout_id=payout_id, provider_reference="ref-1")


def failed(payout_id: str, at: datetime = MATURE, name: str = "") -> PayoutFailed:
    return PayoutFailed(event_id=_id("failed", payout_id, name), occurred_at=at,
                        creator_id=CREATOR, payout_id=payout_id, reason="account closed")


def clawed(purchase_id: str, *gifts: tuple[str, int] | tuple[str, int, str],
           at: datetime = MATURE, name: str = "") -> CoinsClawedBack:
    funded = tuple(FundedGift(request_id=g[0], coins=g[1],
                              creator_id=g[2] if len(g) > 2 else CREATOR) for g in gifts)
    return CoinsClawedBack(event_id=_id("clawed", purchase_id, name), occurred_at=at,
                           user_id="viewer-1", purchase_id=purchase_id,
                           kind=ClawbackKind.chargeback, coins=sum(g[1] for g in gifts),
                           coins_unspent=0, amount_minor=0, currency="USD",
                           funded_gifts=funded, balance_after=-1, frozen=True)


# --- driver -------------------------------------------------------------------------------

def play(inputs: list[Event], policy: PolicyInEffect = POLICY,
         creator: Creator | None = None) -> tuple[Creator, list[PayoutEvent]]:
    """Decide each input in order, evolving the state by each output, as a handler would."""
    creator = creator or Creator(CREATOR)
    outputs: list[PayoutEvent] = []
    for event in inputs:
        for output in decide(creator, event, policy):
            creator = evolve(creator, output)
            outputs.append(output)
    return creator, outputs


def when(given_: list[Event], event: Event,
         policy: PolicyInEffect = POLICY) -> tuple[Creator, list[PayoutEvent]]:
    """The outputs of the last input only, and the state after it."""
    before, _ = play(given_, policy)
    return play([event], policy, before)


def earned_matured(diamonds: int) -> list[Event]:
    """A verified creator with `diamonds` withdrawable from MATURE on."""
    return [verified(), spent("gift-big", diamonds * 2)]


# --- payout requests: every rejection and the check order ---------------------------------

NO_LIMITS = replace(POLICY, limits={})
FEE_POLICY = replace(POLICY, cash_rates={"USD": replace(USD, fee_ppm=20_000)})
ZERO_MIN = replace(POLICY, limits={"USD": replace(USD_LIMITS, min_minor=0)})
FEE_ZERO_MIN = replace(ZERO_MIN, cash_rates={"USD": replace(USD, fee_ppm=20_000)})
R = PayoutRejection


@pytest.mark.parametrize("given_, request_, policy, reason", [
    # 1. duplicate_payout comes first, even when the creator has since lost verification.
    (earned_matured(20_000) + [requested("po-1", 10_000), verified(False, MATURE)],
     requested("po-1", 10_000, name="again"), POLICY, R.duplicate_payout),
    # A rejected payout_id is decided too: reusing it is a duplicate.
    ([requested("po-1", 10_000)], requested("po-1", 10_000, name="again"), POLICY,
     R.duplicate_payout),
    # 2. creator_not_verified before any policy or balance check.
    ([spent("g", 40_000)], requested("po-1", 10_000, currency="JPY"), POLICY,
     R.creator_not_verified),
    (earned_matured(20_000) + [verified(False, MATURE)], requested("po-1", 10_000), POLICY,
     R.creator_not_verified),
    # 3. no_cash_rate before the balance is even looked at.
    ([verified()], requested("po-1", 10_000, currency="JPY"), POLICY, R.no_cash_rate),
    # 4. no_payout_limits: a cash rate alone is not enough (fail closed).
    (earned_matured(20_000), requested("po-1", 10_000, currency="EUR"), POLICY,
     R.no_payout_limits),
    (earned_matured(20_000), requested("po-1", 10_000), NO_LIMITS, R.no_payout_limits),
    # 5. insufficient_diamonds: more than available, or not yet matured, or owed as debt.
    (earned_matured(20_000), requested("po-1", 20_001), POLICY, R.insufficient_diamonds),
    (earned_matured(20_000), requested("po-1", 10_000, at=MATURE - timedelta(seconds=1)),
     POLICY, R.insufficient_diamonds),
    (earned_matured(20_000) + [requested("po-1", 15_000)], requested("po-2", 10_000), POLICY,
     R.insufficient_diamonds),
    (earned_matured(20_000) + [requested("po-1", 20_000), succeeded("po-1"),
                               spent("g2", 20_000, at=MATURE),
                               clawed("pur-1", ("gift-big", 40_000))],
     requested("po-2", 10_000, at=MATURE + timedelta(seconds=HOLD_S)), POLICY,
     R.insufficient_diamonds),
    # ...checked before the minimum: 1 diamond too many and tiny.
    (earned_matured(1), requested("po-1", 2), POLICY, R.insufficient_diamonds),
    # 6. below_minimum on the net: 9,998 diamonds = 4,999 cents < 5,000.
    (earned_matured(20_000), requested("po-1", 9_998), POLICY, R.below_minimum),
    # gross 5,000 meets it but the 2% fee takes net to 4,900.
    (earned_matured(20_000), requested("po-1", 10_000), FEE_POLICY, R.below_minimum),
    # with no minimum, a payout of nothing is still refused: 1 diamond = 0.5 cent -> 0.
    (earned_matured(20_000), requested("po-1", 1), ZERO_MIN, R.below_minimum),
    # ...checked before the daily limit.
    (earned_matured(400_000) + [requested("po-1", 200_000)], requested("po-2", 9_998), POLICY,
     R.below_minimum),
    # 7. daily_limit_exceeded: 1,000 USD per day of net reserved or paid.
    (earned_matured(400_000), requested("po-1", 200_002), POLICY, R.daily_limit_exceeded),
    (earned_matured(400_000) + [requested("po-1", 195_000)], requested("po-2", 10_000),
     POLICY, R.daily_limit_exceeded),
    (earned_matured(400_000) + [requested("po-1", 195_000), succeeded("po-1")],
     requested("po-2", 10_000), POLICY, R.daily_limit_exceeded),
], ids=lambda v: v.value if isinstance(v, R) else None)
def test_payout_request_is_rejected_for_the_first_failed_check(given_, request_, policy,
                                                               reason):
    creator, outputs = when(given_, request_, policy)
    assert [(type(o), o.reason, o.payout_id, o.diamonds) for o in outputs] == [
        (PayoutRejected, reason, request_.payout_id, request_.diamonds)]
    # A rejection moves no diamonds.
    before, _ = play(given_, policy)
    assert creator.available(MATURE) == before.available(MATURE)
    assert creator.reservations == before.reservations


@pytest.mark.parametrize("given_, request_, policy, gross, fee, net", [
    # exactly the minimum, exactly at available_at
    (earned_matured(20_000), requested("po-1", 10_000), POLICY, 5_000, 0, 5_000),
    # exactly the daily maximum
    (earned_matured(400_000), requested("po-1", 200_000), POLICY, 100_000, 0, 100_000),
    # 2% fee rounded up: 10,203 diamonds -> 5,101 cents gross, fee ceil(102.02) = 103
    (earned_matured(20_000), requested("po-1", 10_203), FEE_ZERO_MIN, 5_101, 103, 4_998),
], ids=["minimum", "daily-maximum", "fee-ceiling"])
def test_payout_request_is_reserved(given_, request_, policy, gross, fee, net):
    creator, outputs = when(given_, request_, policy)
    (reserved,) = outputs
    assert isinstance(reserved, PayoutReserved)
    assert (reserved.gross_minor, reserved.fee_minor, reserved.net_minor) == (gross, fee, net)
    assert (reserved.currency, reserved.rate_version, reserved.limits_rate_version,
            reserved.minor_per_diamond, reserved.method) == (
        "USD", "cash-1", "limits-1", Decimal("0.5"), "bank")
    assert reserved.occurred_at == request_.occurred_at
    assert reserved.causation_id == request_.event_id
    # Two-phase hold: the diamonds leave available at once.
    before, _ = play(given_, policy)
    assert creator.available(MATURE) == before.available(MATURE) - request_.diamonds
    assert creator.reserved_diamonds == request_.diamonds


def test_a_cash_rate_or_limits_for_another_currency_count_as_none():
    creator, _ = play(earned_matured(20_000))
    (out,) = decide_payout(creator, requested("po-1", 10_000), EUR, USD_LIMITS)
    assert out.reason is R.no_cash_rate
    (out,) = decide_payout(creator, requested("po-1", 10_000), USD,
                           replace(USD_LIMITS, currency="EUR"))
    assert out.reason is R.no_payout_limits


@pytest.mark.parametrize("second_at, second_reason", [
    (datetime(2026, 3, 16, 23, 59, 59, tzinfo=UTC), R.daily_limit_exceeded),
    # Another UTC day has its own limit...
    (datetime(2026, 3, 17, 0, 0, 0, tzinfo=UTC), None),
    # ...judged in UTC whatever offset the producer wrote: 01:00+02:00 is still the 16th.
    (datetime(2026, 3, 17, 1, 0, 0, tzinfo=timezone(timedelta(hours=2))),
     R.daily_limit_exceeded),
])
def test_daily_limit_is_per_utc_day(second_at, second_reason):
    first_at = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
    given_ = earned_matured(400_000) + [requested("po-1", 200_000, at=first_at)]
    _, outputs = when(given_, requested("po-2", 10_000, at=second_at))
    (out,) = outputs
    assert getattr(out, "reason", None) == second_reason


def test_a_reservation_counts_against_its_own_day_even_if_posted_the_next():
    first_at = datetime(2026, 3, 16, 23, 0, tzinfo=UTC)
    next_day = datetime(2026, 3, 17, 0, 30, tzinfo=UTC)
    creator, _ = play(earned_matured(400_000) + [requested("po-1", 200_000, at=first_at),
                                                 succeeded("po-1", at=next_day)])
    assert creator.net_minor_on("USD", first_at.date()) == 100_000
    assert creator.net_minor_on("USD", next_day.date()) == 0
    _, (out,) = play([requested("po-2", 200_000, at=next_day)], creator=creator)
    assert isinstance(out, PayoutReserved)


# --- outcomes ----------------------------------------------------------------------------

def test_success_posts_the_reservation_as_withdrawn():
    creator, (posted,) = when(earned_matured(20_000) + [requested("po-1", 10_000)],
                              succeeded("po-1"))
    assert isinstance(posted, PayoutPosted)
    assert (posted.payout_id, posted.diamonds, posted.net_minor, posted.currency,
            posted.provider_reference) == ("po-1", 10_000, 5_000, "USD", "ref-1")
    assert (creator.withdrawn_diamonds, creator.reserved_diamonds) == (10_000, 0)
    assert creator.available(MATURE) == 10_000
    assert creator.net_minor_on("USD", MATURE.date()) == 5_000


def test_failure_releases_the_diamonds_and_the_days_limit():
    given_ = earned_matured(400_000) + [requested("po-1", 200_000)]
    creator, (released,) = when(given_, failed("po-1"))
    assert isinstance(released, PayoutReleased)
    assert (released.diamonds, released.reason) == (200_000, "account closed")
    assert (creator.withdrawn_diamonds, creator.reserved_diamonds) == (0, 0)
    assert creator.available(MATURE) == 400_000
    assert creator.net_minor_on("USD", MATURE.date()) == 0
    _, (again,) = play([requested("po-2", 200_000)], creator=creator)
    assert isinstance(again, PayoutReserved)


@pytest.mark.parametrize("given_, outcome", [
    (earned_matured(20_000), succeeded("po-unknown")),
    (earned_matured(20_000), failed("po-unknown")),
    (earned_matured(20_000) + [requested("po-1", 10_000), succeeded("po-1")],
     succeeded("po-1", name="again")),
    (earned_matured(20_000) + [requested("po-1", 10_000), succeeded("po-1")], failed("po-1")),
    (earned_matured(20_000) + [requested("po-1", 10_000), failed("po-1")], succeeded("po-1")),
    (earned_matured(20_000) + [requested("po-1", 9_000)], succeeded("po-1")),  # rejected
], ids=["unknown-success", "unknown-failure", "posted-twice", "failed-after-posted",
        "posted-after-released", "never-reserved"])
def test_outcome_of_an_unknown_or_settled_payout_changes_nothing(given_, outcome):
    before, _ = play(given_)
    after, outputs = play([outcome], creator=before)
    assert outputs == [] and after == before


# --- rounding ------------------------------------------------------------------------------

@pytest.mark.parametrize("coins, share, diamonds", [
    (1, "0.5", 0),
    (3, "0.5", 1),
    (29_999, "0.5", 14_999),
    (34_999, "0.5", 17_499),
    (7, "0.333", 2),
    (10, "1", 10),
    # A 28-digit default context would round the product up to 10**15 before the floor.
    (10**15, "0.999999999999999999999999999999", 10**15 - 1),
])
def test_diamonds_are_rounded_down(coins, share, diamonds):
    assert diamonds_for(coins, Decimal(share)) == diamonds


@pytest.mark.parametrize("diamonds, rate, ppm, fixed, gross, fee, net", [
    (1, "0.5", 0, 0, 0, 0, 0),            # 1 diamond at 0.5 minor: nothing
    (3, "0.5", 0, 0, 1, 0, 1),            # 1.5 -> 1
    (1_000, "1", 1, 0, 1_000, 1, 999),    # 0.001 of a cent of fee still costs a cent
    (999, "1", 25_000, 0, 999, 25, 974),  # 24.975 -> 25
    (1_000, "1", 25_000, 30, 1_000, 55, 945),
    (10, "1", 0, 15, 10, 10, 0),          # fee > gross: capped, never negative
    (10, "1", 1_000_000, 0, 10, 10, 0),   # a 100% fee takes everything
    (20_000, "0.005", 0, 0, 100, 0, 100),
    (10**15, "0.999999999999999999999999999999", 0, 0, 10**15 - 1, 0, 10**15 - 1),
])
def test_conversion_rounds_gross_down_and_fee_up(diamonds, rate, ppm, fixed, gross, fee, net):
    cash = convert(diamonds, Decimal(rate), ppm, fixed)
    assert (cash.gross_minor, cash.fee_minor, cash.net_minor) == (gross, fee, net)


@pytest.mark.parametrize("gift_diamonds, gift_coins, before_coins, before_diamonds, funded, "
                         "expected", [
    (15, 30, 0, 0, 30, (30, 15)),   # all of it
    (15, 30, 0, 0, 10, (10, 5)),
    (1, 3, 0, 0, 1, (1, 0)),        # floor(1/3) = 0: in the creator's favour...
    (1, 3, 1, 0, 2, (2, 1)),        # ...until the last funding coin takes the remainder
    (5, 10, 0, 0, 3, (3, 1)),       # floor(1.5)
    (5, 10, 3, 1, 7, (7, 4)),       # cumulative: 5 in all, not 1 + floor(3.5) = 4
    (15, 30, 20, 10, 50, (10, 5)),  # never more coins than the gift had left
    (0, 1, 0, 0, 1, (1, 0)),        # a gift that earned nothing loses nothing
])
def test_clawed_diamonds_are_pro_rata_with_a_cumulative_floor(
        gift_diamonds, gift_coins, before_coins, before_diamonds, funded, expected):
    assert clawed_diamonds(gift_diamonds, gift_coins, before_coins, before_diamonds,
                           funded) == expected


# --- earning and hold ----------------------------------------------------------------------

def test_a_gift_earns_diamonds_at_the_share_with_its_rates_recorded():
    creator, (earned,) = when([], spent("gift-1", 29_999))
    assert isinstance(earned, DiamondsEarned)
    assert (earned.creator_id, earned.request_id, earned.sender_id, earned.coins,
            earned.diamonds, earned.diamonds_per_coin, earned.rate_version,
            earned.hold_rate_version, earned.applied_to_debt) == (
        CREATOR, "gift-1", "viewer-1", 29_999, 14_999, Decimal("0.5"), "share-1", "hold-1", 0)
    assert earned.available_at == MATURE
    assert creator.held(T0) == 14_999


@pytest.mark.parametrize("at, held, available", [
    (T0, 100, 0),
    (MATURE - timedelta(microseconds=1), 100, 0),
    (MATURE, 0, 100),  # exactly at available_at it is available
    (MATURE + timedelta(days=400), 0, 100),
])
def test_hold_boundary(at, held, available):
    creator, _ = play([spent("gift-1", 200)])
    assert (creator.held(at), creator.available(at)) == (held, available)


def test_a_zero_hold_makes_diamonds_available_at_once():
    creator, _ = play([spent("gift-1", 200)], replace(POLICY, hold=HoldPolicy(0, "no-hold")))
    assert (creator.held(T0), creator.available(T0)) == (0, 100)


def test_a_gift_too_small_for_a_diamond_is_still_recorded():
    creator, (earned,) = when([], spent("rose", 1))
    assert earned.diamonds == 0 and "rose" in creator.earnings


@pytest.mark.parametrize("repeat", [
    spent("gift-1", 100),                                      # the same event again
    spent("gift-1", 100, name="republished"),                  # a new event, same gift
    spent("gift-1", 999, at=T0 + timedelta(days=1), name="x"),
])
def test_earning_is_once_per_gift(repeat):
    before, _ = play([spent("gift-1", 100)])
    after, outputs = play([repeat], creator=before)
    assert outputs == [] and after == before


def test_earning_without_a_share_or_hold_policy_is_not_guessed():
    with pytest.raises(PolicyMissing):
        play([spent("gift-1", 100)], replace(POLICY, share=None))
    with pytest.raises(PolicyMissing):
        play([spent("gift-1", 100)], replace(POLICY, hold=None))


# --- verification ---------------------------------------------------------------------------

@pytest.mark.parametrize("facts, recorded, is_verified", [
    ([verified(True)], [True], True),
    ([verified(False)], [], False),                       # unverified is the default
    ([verified(True), verified(True, T0 + timedelta(1))], [True], True),
    ([verified(True), verified(False, T0 + timedelta(1))], [True, False], False),
])
def test_verification_is_recorded_when_it_changes(facts, recorded, is_verified):
    creator, outputs = play(facts)
    assert all(isinstance(o, CreatorVerificationRecorded) for o in outputs)
    assert [o.verified for o in outputs] == recorded
    assert creator.verified is is_verified


# --- payout idempotency ---------------------------------------------------------------------

def test_a_redelivered_request_decides_nothing_and_a_reused_id_is_a_duplicate():
    first = requested("po-1", 10_000)
    creator, (reserved,) = when(earned_matured(20_000), first)
    assert play([first], creator=creator) == (creator, [])
    other = requested("po-1", 10_000, name="other")
    after_dup, (dup,) = play([other], creator=creator)
    assert dup.reason is R.duplicate_payout and dup.event_id != reserved.event_id
    assert after_dup.reservations == creator.reservations
    assert play([other], creator=after_dup) == (after_dup, [])  # the duplicate, redelivered


def test_decisions_are_deterministic():
    creator, _ = play(earned_matured(20_000))
    request_ = requested("po-1", 10_000)
    assert decide(creator, request_, POLICY) == decide(creator, request_, POLICY)


# --- clawbacks ------------------------------------------------------------------------------

@pytest.mark.parametrize("given_, clawback, expected, debt", [
    # Still held: the hold covers it.
    ([spent("g", 100)], clawed("p", ("g", 100), at=T0), [("g", 50, 50, 0, 0)], 0),
    # Half the coins: half the diamonds.
    ([spent("g", 100)], clawed("p", ("g", 50), at=T0), [("g", 25, 25, 0, 0)], 0),
    # Matured: from available.
    ([spent("g", 100)], clawed("p", ("g", 100)), [("g", 50, 0, 50, 0)], 0),
    # Matured and another gift's diamonds available: still from available.
    ([spent("g", 100), spent("h", 100)], clawed("p", ("g", 100)), [("g", 50, 0, 50, 0)], 0),
    # Matured and partly reserved: reserved diamonds are with the provider; the rest is debt.
    ([verified(), spent("g", 24_000), requested("po", 10_000)], clawed("p", ("g", 24_000)),
     [("g", 12_000, 0, 2_000, 10_000)], 10_000),
    # Matured and withdrawn: all debt.
    ([verified(), spent("g", 20_000), requested("po", 10_000), succeeded("po")],
     clawed("p", ("g", 20_000)), [("g", 10_000, 0, 0, 10_000)], 10_000),
    # Held part first, then available (the other, matured gift), then debt.
    ([spent("old", 40), spent("g", 100, at=MATURE)], clawed("p", ("g", 100), at=MATURE),
     [("g", 50, 50, 0, 0)], 0),
    # Held part first (what debt did not take when earned), then available (gift "h" just
    # matured), then debt.
    ([verified(), spent("a", 60), spent("h", 20, at=T0 + timedelta(days=1)),
      requested("po", 30), succeeded("po"), clawed("p0", ("a", 60)),
      spent("g", 100, at=MATURE + timedelta(days=1))],
     clawed("p", ("g", 100), at=MATURE + timedelta(days=1)), [("g", 50, 20, 10, 20)], 20),
    # Two gifts in one clawback share what is available, in the order listed.
    ([spent("a", 60), spent("b", 60)], clawed("p", ("a", 60), ("b", 60), ("c", 5, "other")),
     [("a", 30, 0, 30, 0), ("b", 30, 0, 30, 0)], 0),
    ([verified(), spent("a", 60), spent("b", 60), requested("po", 40)],
     clawed("p", ("a", 60), ("b", 60)), [("a", 30, 0, 20, 10), ("b", 30, 0, 0, 30)], 40),
    # A gift never earned here is skipped.
    ([spent("g", 100)], clawed("p", ("unknown", 100)), [], 0),
    # A gift listed twice counts its coins once summed.
    ([spent("g", 100)], clawed("p", ("g", 40), ("g", 60), at=T0), [("g", 50, 50, 0, 0)], 0),
], ids=["held", "half", "available", "available-other-gift", "reserved-then-debt",
        "withdrawn-debt", "held-first", "held-available-debt", "two-gifts",
        "two-gifts-run-out", "unknown-gift", "listed-twice"])
def test_clawback_takes_held_then_available_then_debt(given_, clawback, expected, debt):
    # Small payouts, so a few coins can be withdrawn before the clawback.
    creator, outputs = when(given_, clawback, ZERO_MIN)
    assert all(isinstance(o, DiamondsClawedBack) for o in outputs)
    assert [(o.request_id, o.diamonds, o.from_held, o.from_available, o.to_debt)
            for o in outputs] == expected
    assert all(o.purchase_id == clawback.purchase_id for o in outputs)
    assert creator.debt_diamonds == debt


def test_debt_is_paid_first_by_later_earnings_and_blocks_withdrawal_meanwhile():
    given_ = [verified(), spent("g", 20_000), requested("po", 10_000), succeeded("po"),
              clawed("p", ("g", 20_000))]
    creator, _ = play(given_)
    assert (creator.debt_diamonds, creator.available(MATURE)) == (10_000, 0)

    later = MATURE + timedelta(days=1)
    creator, (first,) = play([spent("g2", 12_000, at=later)], creator=creator)
    assert (first.diamonds, first.applied_to_debt) == (6_000, 6_000)
    assert (creator.debt_diamonds, creator.held(later)) == (4_000, 0)

    creator, (second,) = play([spent("g3", 30_000, at=later)], creator=creator)
    assert (second.diamonds, second.applied_to_debt) == (15_000, 4_000)
    assert (creator.debt_diamonds, creator.held(later)) == (0, 11_000)
    assert creator.available(later + timedelta(seconds=HOLD_S)) == 11_000


def test_available_diamonds_beyond_the_debt_only_can_be_withdrawn():
    # Gift "late" is still held when "g" is clawed, so the debt and its diamonds coexist.
    given_ = [verified(), spent("g", 20_000), spent("late", 40_000, at=T0 + timedelta(days=1)),
              requested("po", 10_000), succeeded("po"), clawed("p", ("g", 20_000))]
    creator, _ = play(given_)
    later = MATURE + timedelta(days=1)
    assert (creator.debt_diamonds, creator.available(later)) == (10_000, 20_000)
    assert creator.withdrawable(later) == 10_000
    _, (too_much,) = play([requested("po-2", 10_002, at=later)], creator=creator)
    assert too_much.reason is R.insufficient_diamonds
    _, (ok,) = play([requested("po-3", 10_000, at=later)], creator=creator)
    assert isinstance(ok, PayoutReserved)


def test_a_failed_payout_after_a_clawback_returns_its_diamonds_to_available():
    given_ = [verified(), spent("g", 24_000), requested("po", 10_000),
              clawed("p", ("g", 24_000)), failed("po")]
    creator, _ = play(given_)
    assert (creator.available(MATURE), creator.debt_diamonds) == (10_000, 10_000)
    assert creator.withdrawable(MATURE) == 0


@pytest.mark.parametrize("repeat", [
    clawed("p", ("g", 50)),                        # the same event again
    clawed("p", ("g", 50), name="republished"),    # the same purchase, another event
])
def test_clawback_is_once_per_purchase_and_gift(repeat):
    before, _ = play([spent("g", 100), clawed("p", ("g", 50))])
    after, outputs = play([repeat], creator=before)
    assert outputs == [] and after == before


def test_several_purchases_funding_one_gift_claw_all_of_it_in_the_end():
    creator, outputs = play([spent("g", 3), clawed("p1", ("g", 1)), clawed("p2", ("g", 1)),
                             clawed("p3", ("g", 1))])
    assert [o.diamonds for o in outputs[1:]] == [0, 0, 1]
    assert creator.earnings["g"].clawed_diamonds == 1


def test_creators_funded_lists_each_creator_once_in_order():
    clawback = clawed("p", ("a", 1, "c2"), ("b", 1, "c1"), ("c", 1, "c2"))
    assert creators_funded(clawback) == ["c2", "c1"]


def test_a_late_stamped_input_cannot_make_matured_diamonds_held_again():
    # The gift matured and was withdrawn; a clawback stamped before maturity arrives later.
    given_ = [verified(), spent("g", 40_000), requested("po", 10_000), succeeded("po")]
    creator, (claw,) = when(given_, clawed("p", ("g", 40_000), at=T0 + timedelta(days=1)))
    assert (claw.from_held, claw.from_available, claw.to_debt) == (0, 10_000, 10_000)
    assert claw.occurred_at == MATURE  # decided at the creator's clock
    assert creator.available(MATURE) == 0


# --- replay ----------------------------------------------------------------------------------

SCENARIO = [
    verified(), spent("g1", 40_000), spent("g2", 3, at=T0 + timedelta(hours=1)),
    requested("po-1", 10_000), succeeded("po-1"),
    requested("po-2", 10_000, at=MATURE + timedelta(hours=1)),
    failed("po-2", at=MATURE + timedelta(hours=2)),
    requested("po-3", 1, at=MATURE + timedelta(hours=3)),
    clawed("p1", ("g1", 40_000), ("g2", 3), at=MATURE + timedelta(hours=4)),
    spent("g3", 10_000, at=MATURE + timedelta(days=2)),
]


def test_rebuilding_from_the_outputs_alone_gives_the_live_state():
    live, outputs = play(SCENARIO)
    assert rebuild(CREATOR, outputs) == live
    stepwise = Creator(CREATOR)
    for output in outputs:
        stepwise = evolve(stepwise, output)
    assert stepwise == live
    assert {o.type for o in outputs} >= {
        "payout.creator_verification_recorded", "payout.diamonds_earned",
        "payout.payout_reserved", "payout.payout_posted", "payout.payout_released",
        "payout.payout_rejected", "payout.diamonds_clawed_back"}


def _tampered(outputs: list[PayoutEvent], kind: str) -> list[PayoutEvent]:
    earned = next(o for o in outputs if isinstance(o, DiamondsEarned))
    posted = next(o for o in outputs if isinstance(o, PayoutPosted))
    claw = next(o for o in outputs if isinstance(o, DiamondsClawedBack) and o.diamonds)
    if kind == "earned-twice":
        return outputs + [earned]
    if kind == "posted-twice":
        return outputs + [posted]
    if kind == "removed-reservation":
        return [o for o in outputs if not isinstance(o, PayoutReserved)]
    if kind == "other-creator":
        return outputs + [earned.model_copy(update={"creator_id": "x", "key": "x"})]
    if kind == "altered-clawback":
        return [o.model_copy(update={"to_debt": o.to_debt + 1}) if o is claw else o
                for o in outputs]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["earned-twice", "posted-twice", "removed-reservation",
                                  "other-creator", "altered-clawback"])
def test_a_log_these_decisions_could_not_have_written_is_refused(kind):
    _, outputs = play(SCENARIO)
    with pytest.raises(InconsistentHistory):
        rebuild(CREATOR, _tampered(outputs, kind))


# --- statements ------------------------------------------------------------------------------

def test_statement_of_a_period():
    _, outputs = play(SCENARIO)
    start, end = MATURE, MATURE + timedelta(days=1)
    s = statement(outputs, start, end)
    assert s.creator_id == CREATOR
    assert s.opening_balance_diamonds == 20_001          # g1 + g2, nothing paid yet
    assert (s.earned_diamonds, s.debt_repaid_diamonds) == (0, 0)
    assert (s.paid_diamonds, [(c.currency, c.payouts, c.gross_minor, c.fee_minor, c.net_minor)
                              for c in s.paid]) == (10_000, [("USD", 1, 5_000, 0, 5_000)])
    # g1 and g2 are clawed in full: g1 takes all 10,001 available (its own 10,000 left after
    # po-1, and g2's 1), the 9,999 paid out become debt, and so does g2's diamond.
    assert (s.clawed_back_diamonds, s.clawed_into_debt_diamonds) == (20_001, 10_000)
    assert (s.held_diamonds_at_end, s.available_diamonds_at_end, s.reserved_diamonds_at_end,
            s.debt_diamonds_at_end) == (0, 0, 0, 10_000)
    assert s.closing_balance_diamonds == -10_000
    _reconciles(s)


@pytest.mark.parametrize("start, end", [
    (T0 - timedelta(days=1), T0),                         # before anything: empty
    (T0, T0 + timedelta(days=1)),                         # the earnings, all held
    (T0, MATURE),                                         # half-open: nothing paid yet
    (T0 - timedelta(days=1), MATURE + timedelta(days=30)),
    (MATURE + timedelta(days=2), MATURE + timedelta(days=3)),  # debt repaid by g3
])
def test_statements_reconcile(start, end):
    _, outputs = play(SCENARIO)
    s = statement(outputs, start, end)
    _reconciles(s)
    if end <= T0:
        assert (s.opening_balance_diamonds, s.closing_balance_diamonds) == (0, 0)
    if end == MATURE:
        assert (s.paid_diamonds, s.held_diamonds_at_end, s.available_diamonds_at_end) == (
            0, 1, 20_000)
    if start == MATURE + timedelta(days=2):
        assert (s.earned_diamonds, s.debt_repaid_diamonds, s.debt_diamonds_at_end,
                s.held_diamonds_at_end) == (5_000, 5_000, 5_000, 0)


def _reconciles(s) -> None:
    assert (s.opening_balance_diamonds + s.earned_diamonds - s.clawed_back_diamonds
            - s.paid_diamonds) == s.closing_balance_diamonds
    assert s.closing_balance_diamonds == (s.held_diamonds_at_end + s.available_diamonds_at_end
                                          + s.reserved_diamonds_at_end - s.debt_diamonds_at_end)
    assert s.paid_diamonds == sum(c.diamonds for c in s.paid)
    assert all(c.gross_minor - c.fee_minor == c.net_minor for c in s.paid)


def test_statement_of_no_events():
    s = statement([], T0, MATURE)
    assert (s.creator_id, s.opening_balance_diamonds, s.closing_balance_diamonds) == (None, 0, 0)


# --- policy and contract ---------------------------------------------------------------------

def test_policy_in_effect_follows_the_policy_topic():
    def ev(model, n, **payload):
        return model(event_id=_id("policy", n), occurred_at=T0, **payload)
    policy = PolicyInEffect()
    for event in [
        ev(CreatorShareSet, 1, rate_version="s1", diamonds_per_coin=Decimal("0.5")),
        ev(HoldPeriodSet, 2, rate_version="h1", hold_s=60),
        ev(DiamondCashRateSet, 3, rate_version="c1", currency="USD",
           minor_per_diamond=Decimal("0.5"), fee_ppm=10, fee_fixed_minor=1),
        ev(PayoutLimitsSet, 4, rate_version="l1", currency="USD", min_minor=1,
           max_per_day_minor=2),
        ev(CreatorShareSet, 5, rate_version="s2", diamonds_per_coin=Decimal("0.6")),
    ]:
        policy = policy.apply(event)
    assert policy == PolicyInEffect(
        SharePolicy(Decimal("0.6"), "s2"), HoldPolicy(60, "h1"),
        {"USD": CashRate("USD", Decimal("0.5"), 10, 1, "c1")},
        {"USD": PayoutLimits("USD", 1, 2, "l1")})


SAMPLES = Path(__file__).parent.parent / "contract" / "samples"


@pytest.mark.parametrize("model, defaults", [
    (DiamondsEarned, {"applied_to_debt": 0, "hold_rate_version": None}),
    (DiamondsClawedBack, {"coins": 0}),
    (PayoutReserved, {"fee_ppm": None, "fee_fixed_minor": None, "limits_rate_version": None}),
])
def test_fields_added_to_published_events_are_optional(model, defaults):
    event_type = model.model_fields["type"].default
    event = model.model_validate_json((SAMPLES / event_type / "v1.json").read_bytes())
    assert {name: getattr(event, name) for name in defaults} == defaults


def test_the_verification_record_round_trips():
    _, (recorded,) = play([verified()])
    assert recorded.key == CREATOR and recorded.producer == "payout"
    assert CreatorVerificationRecorded.model_validate_json(recorded.model_dump_json()) == recorded


# --- property: random histories conserve diamonds and rebuild exactly ------------------------

PROPERTY_POLICY = PolicyInEffect(
    SharePolicy(Decimal("0.5"), "s"), HoldPolicy(3600, "h"),
    {"USD": CashRate("USD", Decimal("0.5"), 25_000, 10, "c"),
     "EUR": CashRate("EUR", Decimal("0.47"), 0, 0, "e")},
    {"USD": PayoutLimits("USD", 50, 8_000, "l")})

# A history is a list of rounds; each round, in order: gifts earned, maybe a verification
# change, maybe a clawback, time passes, maybe a payout request, maybe a provider outcome,
# maybe the clawback now instead, maybe a redelivery of the round's last input. Rounds make
# every order of operations likely, where a flat list of operations mostly shrinks to a few
# unrelated steps.
# Each input is stamped up to two hours before "now" (producers' clocks disagree), against
# a one-hour hold.
_jitter = st.sampled_from([0, 0, 600]) | st.integers(0, 7200)
_round = st.fixed_dictionaries({
    "earn": st.lists(st.sampled_from([1, 3, 2_000, 10_000]) | st.integers(1, 20_000),
                     max_size=2),
    "verify": st.none() | st.sampled_from([True, True, False]),
    "clawback": st.none() | st.tuples(
        st.lists(st.tuples(st.integers(-1, 20), st.integers(1, 12_000)), min_size=1,
                 max_size=3),
        st.integers(0, 3)),
    "wait_s": st.sampled_from([0, 3600, 7200, 86400]) | st.integers(0, 2 * 86400),
    "clawback_after": st.booleans(),  # clawback before time passes, or after the payout
    "request": st.none() | st.tuples(
        st.sampled_from([0, 0, 100, 1_000, 5_000]) | st.integers(1, 12_000),  # 0: all
        st.sampled_from(["USD", "USD", "USD", "EUR"]),
        st.sampled_from([False, False, False, True])),  # reuse the first payout_id
    "outcome": st.none() | st.tuples(st.sampled_from(["succeed", "fail"]), st.integers(0, 7)),
    "redeliver": st.booleans(),
    "jitter_s": _jitter,
})


def _check_invariants(creator: Creator, outputs: list[PayoutEvent]) -> None:
    for t in (creator.clock, creator.clock + timedelta(days=10)):
        held, available = creator.held(t), creator.available(t)
        assert (creator.earned_diamonds - creator.withdrawn_diamonds
                - creator.reserved_diamonds - creator.clawed_back_diamonds) == (
            held + available - creator.debt_diamonds)
        assert held >= 0 and available >= 0
    assert creator.reserved_diamonds >= 0 and creator.withdrawn_diamonds >= 0
    assert creator.debt_diamonds >= 0
    assert all(e.credited >= 0 and 0 <= e.clawed_diamonds <= e.diamonds
               for e in creator.earnings.values())
    # Debt only ever comes from a clawback.
    assert creator.debt_diamonds <= sum(o.to_debt for o in outputs
                                        if isinstance(o, DiamondsClawedBack))
    assert all(amount >= 0 for amount in creator.net_minor_by_day.values())
    assert rebuild(CREATOR, outputs) == creator


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rounds=st.lists(_round, min_size=1, max_size=15))
def test_random_histories_conserve_diamonds_and_rebuild_exactly(rounds):
    creator, outputs = play([verified(at=T0 - timedelta(days=3))], PROPERTY_POLICY)
    now, gifts, payouts = T0, [], []

    def step(event: Event) -> None:
        nonlocal creator
        for output in decide(creator, event, PROPERTY_POLICY):
            assert output.occurred_at >= creator.clock  # a creator's clock never runs back
            creator = evolve(creator, output)
            outputs.append(output)
        _check_invariants(creator, outputs)

    def clawback(r: dict, n: int, at: datetime) -> Event:
        funded, purchase = r["clawback"]
        # Index -1 names a gift never earned; even ones count from the oldest gift (likely
        # matured, maybe withdrawn: debt), odd ones back from the latest (likely held).
        listed = [("never" if i < 0 or not gifts else
                   gifts[i // 2 % len(gifts)] if i % 2 == 0 else gifts[-1 - i // 2 % len(gifts)],
                   coins) for i, coins in funded]
        return clawed(f"pur{purchase}", *listed, ("x", 1, "someone-else"), at=at, name=n)

    for n, r in enumerate(rounds):
        at = now - timedelta(seconds=r["jitter_s"])
        last: Event | None = None
        for i, coins in enumerate(r["earn"]):
            gifts.append(f"g{n}.{i}")
            step(last := spent(gifts[-1], coins, at=at))
        if r["verify"] is not None:
            step(last := verified(r["verify"], at=at))
        if r["clawback"] is not None and not r["clawback_after"]:
            step(last := clawback(r, n, at))
        now += timedelta(seconds=r["wait_s"])
        at = now - timedelta(seconds=r["jitter_s"])
        if r["request"] is not None:
            diamonds, currency, reuse = r["request"]
            diamonds = diamonds or max(1, creator.withdrawable(creator.now(at)))
            payouts.append(payouts[0] if reuse and payouts else f"po{n}")
            step(last := requested(payouts[-1], diamonds, at=at, currency=currency, name=n))
        if r["outcome"] is not None:
            kind, index = r["outcome"]
            # Mostly an open reservation; otherwise any id: settled, rejected or unknown.
            pool = sorted(creator.reservations) if creator.reservations and index % 4 else payouts
            payout_id = pool[index % len(pool)] if pool else "po-none"
            step(last := (succeeded if kind == "succeed" else failed)(payout_id, at=at, name=n))
        if r["clawback"] is not None and r["clawback_after"]:
            step(last := clawback(r, n, at))
        if r["redeliver"] and last is not None:
            assert decide(creator, last, PROPERTY_POLICY) == []  # decided once
    s = statement(outputs, T0 - timedelta(days=3), now + timedelta(days=30))
    _reconciles(s)
    assert s.closing_balance_diamonds == creator.balance_diamonds
