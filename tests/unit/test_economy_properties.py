"""The whole economy as one state machine: random histories of purchases, promo grants, facts
about users, streams, catalog changes, gifts, refunds, chargebacks, payouts, provider answers,
lagging deliveries between services and redeliveries, run through the three services' pure
decisions exactly as their handlers route them (tests/unit/economy_model.py). After every step
the invariants of the product brief hold; at teardown every queue is drained and they are
checked once more with nothing in flight.

Precise readings of the product's invariants (the product brief states them loosely):

Coin conservation. For every wallet, and so for their sum,

    Σ CoinsPurchased.coins + Σ PromoCoinsCredited.coins              (credited, in full)
  - Σ CoinsSpent.coins - Σ CoinsClawedBack.coins - Σ PromoCoinsExpired.coins
  == balance (= spendable coins in lots - debt)

  * `debt_repaid` of a credit is NOT subtracted: the credit raises the balance by all of its
    coins, the repaid part by cancelling debt instead of adding spendable coins.
  * "coins clawed back" is CoinsClawedBack.coins, the whole purchase, not `coins_unspent`: the
    balance drops by the purchase's coins, of which `coins_unspent` leave the clawed lot,
    Σ covered_by.coins leave the other lots, and the rest becomes debt.
  * expired promo coins (PromoCoinsExpired) are a fourth way out that the brief omits.
  Finer, per bucket:
    purchased spendable == Σ purchased - Σ their debt_repaid - purchase-lot uses (gifts and
                           cover) - Σ coins_unspent
    promo spendable     == Σ granted - Σ their debt_repaid - promo-lot uses - Σ expired
    debt                == Σ (coins - coins_unspent - Σ covered_by) - Σ debt_repaid

Diamond conservation. Per creator, at any time t from the creator's clock on,
    earned - withdrawn - reserved - clawed back == held(t) + available(t) - debt
  with earned = Σ DiamondsEarned.diamonds, withdrawn = Σ PayoutPosted.diamonds, reserved =
  Σ PayoutReserved - posted - Σ PayoutReleased, clawed back = Σ DiamondsClawedBack.diamonds and
  debt = Σ to_debt - Σ applied_to_debt. Summed over creators, "diamonds converted" is read as
  posted (withdrawn) diamonds and "creator balance" as Creator.balance_diamonds (held +
  available + reserved - debt); equivalently converted = posted + reserved and balance =
  held + available - debt. Earned diamonds are floor(coins * share) of each CoinsSpent, never
  touched by a campaign multiplier.

Money. All purchases are USD. With every purchase lot valued by cumulative allocation
(value of its first n used coins = floor(n * amount / coins)):
    cash received (Σ CoinsPurchased.amount_minor)
      == refunded and charged back (Σ CoinsClawedBack.amount_minor, each the whole lot)
       + for lots not clawed back: cash value of coins spent on gifts (LotUse.value_minor)
         + of coins that repaid debt (floor(debt_repaid * amount / coins), not on any event)
         + of coins given as cover to another clawback (covered_by value_minor)
         + of coins still held (the coin liability: amount - value of the used coins)
  and the cash of gifts splits into what creators are owed (diamonds: paid out net + fees,
  reserved, still held) and platform revenue, which is a residual and can be negative: promo
  coins are worth 0 cash but earn diamonds. What is checked exactly: per lot Σ value_minor +
  repaid value == floor(used * amount / coins) (<= amount, == amount when fully used), the
  identity above with the coin liability taken from the live wallets, and for every payout
  gross == floor(diamonds * rate) == net + fee with the fee rule of money.py, posted net ==
  reserved net, and the minimum and daily maximum on net.

Redelivery. A previously processed input decided again by the same consumer (same event id,
or republished under a new id) decides nothing and changes no state. Not redelivered:
  * a user fact (AgeVerified, SpendingLimitSet, CreatorVerified) superseded by a later one:
    facts carry no version, so deciding a stale one again records it again. The runtime's
    inbox drops a redelivery with the same event id; a stale fact republished under a new id
    is indistinguishable from a new fact;
  * a PayoutRequested republished under a new id: that is a documented duplicate_payout
    rejection, an output, not a no-op;
  * a purchase the wallet refused: a refusal keeps nothing, so deciding it again refuses it
    again (an output with the same derived id, which the runtime's inbox and downstream dedupe
    drop; a republish under a new id is decided afresh, by design);
  * policy events (last writer wins by design).

Not asserted: the brief's "minimum age 18 to ... receive" (users.AgeVerified: "can neither buy,
send nor receive"). No service gates the receiving side: gifting prices gifts to a stream of a
creator recorded as a minor, payout credits the diamonds and pays them out.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from math import ceil, floor

from hypothesis import HealthCheck, event as label, settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from services.gifting.seed_catalog import SEED_GIFTS
from services.payout.domain import Creator, rebuild
from services.wallet.domain import Wallet, balance, day_key, fold, month_key, replay, spendable
from shared.contract.defaults import COIN_PACKAGES, default_policy
from shared.contract.envelope import Event
from shared.contract.events.catalog import (
    CampaignEnded,
    CampaignStarted,
    GiftRepriced,
    GiftRetired,
)
from shared.contract.events.creators import PayoutFailed, PayoutRequested, PayoutSucceeded
from shared.contract.events.gifting import (
    GiftFailed,
    GiftPriced,
    GiftRejected,
    GiftRejection,
    GiftSent,
)
from shared.contract.events.payments import (
    Platform,
    PurchaseChargedBack,
    PurchaseCompleted,
    PurchaseRefunded,
)
from shared.contract.events.payout import (
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
    PayoutLimitsSet,
    PolicyEvent,
    SpendingPolicySet,
)
from shared.contract.events.promotions import PromoCoinsGranted
from shared.contract.events.streams import GiftRequested, StreamEnded, StreamStarted
from shared.contract.events.users import (
    AgeVerified,
    CreatorVerified,
    LimitPeriod,
    LimitSetter,
    SpendingLimitSet,
)
from shared.contract.events.wallet import (
    ClawbackKind,
    CoinsClawedBack,
    CoinsPurchased,
    CoinsSpent,
    FreezeReason,
    LotKind,
    PromoCoinsCredited,
    PromoCoinsExpired,
    PurchaseRefusal,
    PurchaseRefused,
    SpendRejected,
    SpendRejection,
    WalletEvent,
)
from tests.unit.economy_model import GIFTING, PAYOUT, WALLET, Delivery, Economy

VIEWERS = ("v1", "v2", "v3")
CREATORS = ("c1", "c2")
USERS = VIEWERS + CREATORS
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
IDS = uuid.UUID("0b7c8a1e-4f7e-4c59-9d0f-7a1f3c2b5e60")
MAX_QUANTITY = 9999
PACKAGES = list(COIN_PACKAGES)
"""(package, platform, coins, cents): the default price list (all USD, region US)."""


def _default(kind: type[PolicyEvent]) -> PolicyEvent:
    return next(event for event in default_policy() if isinstance(event, kind))


SHARE = Fraction(_default(CreatorShareSet).diamonds_per_coin)
USD_RATE = _default(DiamondCashRateSet)
USD_LIMITS = _default(PayoutLimitsSet)
BUCKET = {LotKind.purchase: "purchased", LotKind.promo: "promo"}


class EconomyMachine(RuleBasedStateMachine):
    """Rules publish external inputs at the machine's clock; the economy routes them. The
    machine tracks what it published (ages, limits, caps, prices, streams, campaigns, cash
    rates) to check decisions independently of the services' own state."""

    def __init__(self) -> None:
        super().__init__()
        self.economy = Economy()
        self.now = T0
        self.serial = 0
        # What the test knows independently of the services' state, from the inputs alone.
        self.adult: dict[str, bool | None] = dict.fromkeys(USERS)
        self.limits: dict[tuple[str, LimitPeriod, LimitSetter], int] = {}
        self.caps: dict[LimitPeriod, int | None] = {LimitPeriod.daily: None,
                                                    LimitPeriod.monthly: None}
        self.verified: dict[str, bool] = dict.fromkeys(CREATORS, False)
        self.prices: dict[str, tuple[int, int, bool]] = {
            gift_id: (coins, 1, False) for gift_id, _, coins in SEED_GIFTS}
        """gift_id -> (unit coins, catalog version, retired)."""
        self.campaigns: dict[str, dict] = {}
        self.streams: dict[str, list] = {}
        """stream_id -> [creator_id, started_at, ended_at]."""
        self.cash_rates: dict[str, tuple[Fraction, int, int]] = {
            "USD": (Fraction(USD_RATE.minor_per_diamond), USD_RATE.fee_ppm,
                    USD_RATE.fee_fixed_minor)}
        self.purchases: list[PurchaseCompleted] = []
        self.expires: dict[str, datetime] = {}
        self.payout_ids: list[tuple[str, str]] = []
        # Running totals for the per-decision checks, fed in delivery order.
        self.checked = 0
        self.spent_day: dict[tuple[str, str], int] = defaultdict(int)
        self.spent_month: dict[tuple[str, str], int] = defaultdict(int)

    # -- helpers -----------------------------------------------------------------------------

    def _id(self) -> uuid.UUID:
        self.serial += 1
        return uuid.uuid5(IDS, str(self.serial))

    def _name(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial}"

    def publish(self, event_type: type[Event], **payload) -> Event:
        event = event_type(event_id=self._id(), occurred_at=self.now, **payload)
        self.economy.publish(event)
        return event

    def wallet(self, user_id: str) -> Wallet:
        return self.economy.wallets.get(user_id) or Wallet(user_id)

    def creator(self, creator_id: str) -> Creator:
        return self.economy.creators.get(creator_id) or Creator(creator_id)

    # -- setup -------------------------------------------------------------------------------

    @initialize(lagging=st.booleans(),
                ages=st.lists(st.sampled_from([True] * 8 + [False, None]),
                              min_size=len(USERS), max_size=len(USERS)),
                verified=st.lists(st.sampled_from([True, True, False]),
                                  min_size=len(CREATORS), max_size=len(CREATORS)),
                opening=st.lists(st.none() | st.sampled_from(PACKAGES[-2:] + PACKAGES[:4]),
                                 min_size=len(VIEWERS), max_size=len(VIEWERS)),
                warm=st.sampled_from(["cold", "gifted", "paid_out", "in_debt"]),
                rate=st.sampled_from([None, None, ("0.45", 15_000, 30), ("25", 20_000, 0)]),
                boosts=st.booleans())
    def setup(self, lagging, ages, verified, opening, warm, rate, boosts):
        """Mostly adults, verified creators and viewers who bought a pack, and c1 live from
        the start, so that most histories reach gifts, earnings, clawbacks and payouts.

        Shortcuts to the deep states a random walk rarely reaches in 40 steps: a warm start
        ("gifted") has the adult viewers buy the largest pack and gift it to c1, then the hold
        period passes, so that c1 can cash out (50 USD needs 20,000 coins of gifts);
        "paid_out" goes on: c1 cashes out what fits the daily limit, the provider pays, the
        other adult viewers gift another pack each, and the first purchase is refunded,
        leaving c1 in debt with diamonds still held ("in_debt": until they mature). A cash rate
        with fees (or one worth 25 cents a diamond, so that the daily maximum bites),
        overlapping campaigns, and lagging deliveries between services, in some histories."""
        self.economy.lagging = lagging
        label(f"lagging={lagging}")
        label(f"start={warm}")
        for user_id, adult in zip(USERS, ages, strict=True):
            if adult is not None:
                self._age(user_id, adult)
        for creator_id, ok in zip(CREATORS, verified, strict=True):
            if ok:
                self._verify_creator(creator_id, ok)
        if rate is not None:
            self._set_cash_rate(*rate)
        if boosts:
            self._start_campaign("1.5", (), self.now, self.now + timedelta(days=2))
            self._start_campaign("3", ("rosa-nebula", "rose", "lion"), self.now,
                                 self.now + timedelta(days=1))
        for user_id, package in zip(VIEWERS, opening, strict=True):
            if warm != "cold" and self.adult[user_id]:
                package = PACKAGES[-1]
            if package is not None:
                self.buy(user_id, package)
        self._start_stream("c1")
        if warm != "cold":
            for user_id in VIEWERS:
                self._request_gift(user_id, 0, "all", 0)
            self.economy.drain()
            self.now += timedelta(days=16)
        if warm in ("paid_out", "in_debt"):
            self._request_payout("c1", "fit", 1)
            self.economy.drain()
            self.provider_answers(0, True, False)
            for user_id in VIEWERS[1:]:  # new gifts, still held when the refund comes
                if self.adult[user_id]:
                    self.buy(user_id, PACKAGES[-1])
                    self._request_gift(user_id, 0, "all", 0)
            if self.purchases:
                first = self.purchases[0]
                self.publish(PurchaseRefunded, user_id=first.user_id,
                             purchase_id=first.purchase_id, amount_minor=first.amount_minor,
                             currency="USD")
            self.economy.drain()
        if warm == "in_debt":
            self.now += timedelta(days=16)

    # -- rules: time, money in ----------------------------------------------------------------

    @rule(seconds=st.one_of(st.integers(1, 3600), st.integers(3600, 86_400),
                            st.integers(86_400, 3 * 86_400), st.integers(15 * 86_400,
                                                                         20 * 86_400)))
    def advance_clock(self, seconds):
        self.now += timedelta(seconds=seconds)

    @rule(user=st.sampled_from(USERS), package=st.sampled_from(PACKAGES))
    def buy(self, user, package):
        package_id, platform, coins, amount = package
        self.purchases.append(self.publish(
            PurchaseCompleted, user_id=user, purchase_id=self._name("p"), coins=coins,
            amount_minor=amount, currency="USD", platform=Platform(platform), region="US",
            package_id=package_id, rate_version="packs-2026-01"))

    @rule(user=st.sampled_from(USERS), package=st.sampled_from(PACKAGES),
          how=st.sampled_from(["17500-for-a-cent", "coins", "amount", "currency", "region",
                               "platform", "package"]))
    def buy_off_the_list(self, user, package, how):
        """A purchase that does not match the price list (the wallet refuses it and credits
        nothing), kept among the purchases a refund or chargeback may name."""
        package_id, platform, coins, amount = package
        figures = dict(coins=coins, amount_minor=amount, currency="USD", platform=platform,
                       region="US", package_id=package_id, rate_version="packs-2026-01")
        figures.update({
            "17500-for-a-cent": dict(coins=17500, amount_minor=1, rate_version="packs-made-up"),
            "coins": dict(coins=coins + 1), "amount": dict(amount_minor=amount - 1),
            "currency": dict(currency="EUR"), "region": dict(region="FR"),
            "platform": dict(platform="app_android"), "package": dict(package_id="coins-1"),
        }[how])
        label(f"purchase off the list: {how}")
        self.purchases.append(self.publish(
            PurchaseCompleted, user_id=user, purchase_id=self._name("p"),
            **{**figures, "platform": Platform(figures["platform"])}))

    @rule(user=st.sampled_from(USERS), coins=st.integers(1, 5000),
          ttl_s=st.one_of(st.integers(-3600, 0), st.integers(1, 3600),
                          st.integers(3600, 20 * 86_400)))
    def grant(self, user, coins, ttl_s):
        grant_id = self._name("g")
        self.expires[grant_id] = self.now + timedelta(seconds=ttl_s)
        self.publish(PromoCoinsGranted, user_id=user, grant_id=grant_id, campaign_id="welcome",
                     coins=coins, expires_at=self.expires[grant_id])

    @rule(pick=st.integers(0, 1000), chargeback=st.sampled_from([False, False, True]),
          unknown=st.sampled_from([False] * 9 + [True]))
    def claw_back(self, pick, chargeback, unknown):
        """A refund or chargeback of a random earlier purchase (mostly a recent one), or of a
        purchase the wallet never saw, possibly the same purchase twice."""
        if unknown or not self.purchases:
            purchase_id, user_id, amount = "p-unknown", VIEWERS[pick % len(VIEWERS)], 100
        else:
            purchase = self.purchases[-1 - pick % len(self.purchases)]
            purchase_id, user_id = purchase.purchase_id, purchase.user_id
            amount = purchase.amount_minor
        self.publish(PurchaseChargedBack if chargeback else PurchaseRefunded, user_id=user_id,
                     purchase_id=purchase_id, amount_minor=amount, currency="USD")

    # -- rules: facts about users, and operations --------------------------------------------

    def _age(self, user_id: str, adult: bool) -> None:
        self.adult[user_id] = adult
        self.publish(AgeVerified, user_id=user_id, adult=adult)

    def _verify_creator(self, creator_id: str, verified: bool) -> None:
        self.verified[creator_id] = verified
        self.publish(CreatorVerified, user_id=creator_id, verified=verified)

    @rule(user=st.sampled_from(USERS), what=st.sampled_from(["age", "age", "limit", "creator"]),
          flag=st.sampled_from([True, True, True, False]), period=st.sampled_from(LimitPeriod),
          set_by=st.sampled_from(LimitSetter),
          coins=st.none() | st.sampled_from([0, 1, 100, 5000, 40_000]))
    def user_fact(self, user, what, flag, period, set_by, coins):
        if what == "age":
            self._age(user, flag)
        elif what == "creator" and user in CREATORS:
            self._verify_creator(user, flag)
        else:
            if coins is None:
                self.limits.pop((user, period, set_by), None)
            else:
                self.limits[(user, period, set_by)] = coins
            self.publish(SpendingLimitSet, user_id=user, period=period, set_by=set_by,
                         coins=coins)

    def _start_campaign(self, multiplier: str, gifts: tuple[str, ...], starts: datetime,
                        ends: datetime) -> None:
        campaign_id = self._name("camp")
        self.campaigns[campaign_id] = dict(multiplier=Fraction(Decimal(multiplier)),
                                           gifts=frozenset(gifts), starts=starts, ends=ends,
                                           ended=None)
        self.publish(CampaignStarted, campaign_id=campaign_id, multiplier=Decimal(multiplier),
                     gift_ids=gifts, starts_at=starts, ends_at=ends)

    def _set_cash_rate(self, rate: str, fee_ppm: int, fee_fixed: int) -> None:
        self.cash_rates["USD"] = (Fraction(Decimal(rate)), fee_ppm, fee_fixed)
        self.publish(DiamondCashRateSet, rate_version=self._name("cash-"), currency="USD",
                     minor_per_diamond=Decimal(rate), fee_ppm=fee_ppm, fee_fixed_minor=fee_fixed)

    @rule(what=st.sampled_from(["campaign", "end_campaign", "reprice", "retire",
                                "cash_rate", "spending_policy"]),
          pick=st.integers(0, 1000),
          multiplier=st.sampled_from(["1", "1.25", "1.5", "2", "3"]),
          whole_catalog=st.booleans(),
          start_s=st.integers(-3600, 3600), length_s=st.integers(1, 3 * 86_400),
          price=st.integers(1, 40_000),
          rate=st.sampled_from(["0.5", "0.45", "0.333", "25"]),
          fee_ppm=st.sampled_from([0, 0, 15_000, 999_999]),
          fee_fixed=st.sampled_from([0, 0, 30]),
          cap=st.none() | st.sampled_from([500, 20_000, 100_000]))
    def operate(self, what, pick, multiplier, whole_catalog, start_s, length_s, price, rate,
                fee_ppm, fee_fixed, cap):
        """Catalog and policy operations: campaigns (boost points only), reprices and
        retirements (never rewrite a priced gift), a new diamond cash rate with fees, a
        platform spending cap."""
        gift_ids = sorted(self.prices)
        gift_id = gift_ids[pick % len(gift_ids)]
        if what == "campaign":
            gifts = () if whole_catalog else tuple(gift_ids[(pick + i) % len(gift_ids)]
                                                   for i in range(3))
            starts = self.now + timedelta(seconds=start_s)
            self._start_campaign(multiplier, gifts, starts, starts + timedelta(seconds=length_s))
        elif what == "end_campaign" and self.campaigns:
            campaign_id = sorted(self.campaigns)[pick % len(self.campaigns)]
            if self.campaigns[campaign_id]["ended"] is None:
                self.campaigns[campaign_id]["ended"] = self.now
            self.publish(CampaignEnded, campaign_id=campaign_id)
        elif what in ("reprice", "retire"):
            coins, version, retired = self.prices[gift_id]
            if what == "reprice":
                self.prices[gift_id] = (price, version + 1, retired)
                self.publish(GiftRepriced, gift_id=gift_id, catalog_version=version + 1,
                             coins=price)
            else:
                self.prices[gift_id] = (coins, version + 1, True)
                self.publish(GiftRetired, gift_id=gift_id, catalog_version=version + 1)
        elif what == "cash_rate":
            self._set_cash_rate(rate, fee_ppm, fee_fixed)
        elif what == "spending_policy":
            period = LimitPeriod.daily if pick % 2 else LimitPeriod.monthly
            self.caps[period] = cap
            self.publish(SpendingPolicySet, rate_version=self._name("caps-"),
                         daily_coins=self.caps[LimitPeriod.daily],
                         monthly_coins=self.caps[LimitPeriod.monthly])

    # -- rules: streams and gifts --------------------------------------------------------------

    def _start_stream(self, creator_id: str) -> None:
        stream_id = self._name("s")
        self.streams[stream_id] = [creator_id, self.now, None]
        self.publish(StreamStarted, stream_id=stream_id, creator_id=creator_id)

    @rule(creator=st.sampled_from(CREATORS), end=st.sampled_from([False, True, True]),
          pick=st.integers(0, 100))
    def stream_lifecycle(self, creator, end, pick):
        """End a live stream (mostly), or start one (always, when none is live)."""
        live = sorted(sid for sid, s in self.streams.items() if s[2] is None)
        if not end or not live:
            self._start_stream(creator)
            return
        stream_id = live[pick % len(live)]
        self.streams[stream_id][2] = self.now
        self.publish(StreamEnded, stream_id=stream_id, creator_id=self.streams[stream_id][0])

    def _request_gift(self, sender, stream_pick, how, pick):
        stream_ids = sorted(self.streams)
        live = [sid for sid in stream_ids if self.streams[sid][2] is None]
        if stream_pick < 0 or not stream_ids:
            stream_id = "s-unknown"
        elif live and stream_pick % 5 != 4:
            stream_id = live[stream_pick % len(live)]  # mostly a live stream
        else:
            stream_id = stream_ids[stream_pick % len(stream_ids)]
        listed = sorted((coins, gift_id) for gift_id, (coins, _, retired) in self.prices.items()
                        if not retired) or [(1, "rose")]
        budget = max(1, spendable(self.wallet(sender)))
        if how in ("afford", "all", "over"):
            if how == "afford":
                budget = max(1, budget * (1 + pick % 100) // 100)
            coins, gift_id = max((entry for entry in listed if entry[0] <= budget),
                                 default=listed[0])
            quantity = max(1, min(MAX_QUANTITY, budget // coins))
            if how == "over":
                quantity = min(MAX_QUANTITY, quantity + 1)
        elif how == "unknown_gift":
            gift_id, quantity = "gift-never-listed", 1
        elif how == "bad_quantity":
            gift_id = listed[pick % len(listed)][1]
            quantity = [0, -1, MAX_QUANTITY + 1, 10**9][pick % 4]
        else:
            gift_id = sorted(self.prices)[pick % len(self.prices)]
            quantity = 1 + pick % 5
        label(f"gift request: {how}")
        self.publish(GiftRequested, request_id=self._name("r"), stream_id=stream_id,
                     sender_id=sender, gift_id=gift_id, quantity=quantity)

    gift_how = st.sampled_from(["afford", "afford", "afford", "all", "all", "over", "random",
                                "unknown_gift", "bad_quantity"])

    @rule(sender=st.sampled_from(USERS), stream_pick=st.integers(-1, 100), how=gift_how,
          pick=st.integers(0, 10_000))
    def request_gift(self, sender, stream_pick, how, pick):
        self._request_gift(sender, stream_pick, how, pick)

    @rule(sender=st.sampled_from(VIEWERS), stream_pick=st.integers(0, 100), how=gift_how,
          pick=st.integers(0, 10_000))
    def viewer_sends_gift(self, sender, stream_pick, how, pick):
        self._request_gift(sender, stream_pick, how, pick)

    # -- rules: payouts ------------------------------------------------------------------------

    @rule(creator=st.sampled_from(["c1", "c1", "c2"]),
          kind=st.sampled_from(["all", "all", "fit", "fit", "half", "tiny", "too_large",
                                "over_daily", "eur"]),
          pick=st.integers(1, 9_999))
    def request_payout(self, creator, kind, pick):
        self._request_payout(creator, kind, pick)

    def _request_payout(self, creator: str, kind: str, pick: int) -> None:
        state = self.creator(creator)
        withdrawable = state.withdrawable(state.now(self.now))
        daily_max = floor(USD_LIMITS.max_per_day_minor / self.cash_rates["USD"][0])
        diamonds = {"all": withdrawable, "fit": min(withdrawable, daily_max),
                    "half": withdrawable // 2, "tiny": pick, "too_large": withdrawable + pick,
                    "over_daily": daily_max + pick, "eur": withdrawable}[kind]
        payout_id = self._name("po")
        self.payout_ids.append((creator, payout_id))
        label(f"payout request: {kind}")
        self.publish(PayoutRequested, creator_id=creator, payout_id=payout_id,
                     diamonds=max(1, diamonds), currency="EUR" if kind == "eur" else "USD",
                     method="bank")

    @rule(pick=st.integers(0, 1000), success=st.sampled_from([True, True, False]),
          unknown=st.sampled_from([False] * 9 + [True]))
    def provider_answers(self, pick, success, unknown):
        open_ids = [(c, p) for c, p in self.payout_ids if p in self.creator(c).reservations]
        candidates = open_ids or self.payout_ids
        if unknown or not candidates:
            creator_id, payout_id = CREATORS[pick % len(CREATORS)], "po-unknown"
        else:
            creator_id, payout_id = candidates[pick % len(candidates)]
        if success:
            self.publish(PayoutSucceeded, creator_id=creator_id, payout_id=payout_id,
                         provider_reference=self._name("ref"))
        else:
            self.publish(PayoutFailed, creator_id=creator_id, payout_id=payout_id,
                         reason="bank account closed")

    # -- rules: delivery between services ----------------------------------------------------

    @precondition(lambda self: self.economy.lagging and self.economy.pending())
    @rule(pick=st.integers(0, 1000), count=st.integers(1, 4))
    def deliver_some(self, pick, count):
        for _ in range(count):
            pending = self.economy.pending()
            if not pending:
                return
            self.economy.deliver_next(*pending[pick % len(pending)])

    @precondition(lambda self: self.economy.lagging and self.economy.pending())
    @rule()
    def deliver_everything(self):
        self.economy.drain()

    @precondition(lambda self: self.economy.deliveries)
    @rule(pick=st.integers(0, 10_000), republish=st.booleans())
    def redeliver(self, pick, republish):
        """An input some consumer already processed comes again: nothing changes."""
        candidates = [d for d in self.economy.deliveries if self._redeliverable(d, republish)]
        if not candidates:
            return
        delivery = candidates[-1 - pick % len(candidates)]
        event = delivery.event
        if republish:
            event = event.model_copy(update={"event_id": self._id()})
        before = self.economy.state()
        log_size = len(self.economy.log)
        outputs = self.economy.redeliver(delivery.consumer, event)
        label(f"redeliver to {delivery.consumer}")
        assert outputs == [], (delivery.consumer, event, outputs)
        assert self.economy.state() == before, (delivery.consumer, event)
        assert len(self.economy.log) == log_size

    def _redeliverable(self, delivery: Delivery, republish: bool) -> bool:
        event = delivery.event
        if isinstance(event, PolicyEvent):
            return False
        if any(isinstance(output, PurchaseRefused) for output in delivery.outputs):
            return False
        if republish and isinstance(event, PayoutRequested):
            return False
        if isinstance(event, AgeVerified | CreatorVerified | SpendingLimitSet):
            return self._latest_fact(event) is event
        return True

    def _latest_fact(self, fact: Event) -> Event:
        def key(event: Event) -> tuple:
            return (type(event), event.user_id, getattr(event, "period", None),
                    getattr(event, "set_by", None))
        return [event for event in self.economy.inputs
                if type(event) is type(fact) and key(event) == key(fact)][-1]

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def decisions_were_right_when_made(self):
        deliveries = self.economy.deliveries
        for delivery in deliveries[self.checked:]:
            if delivery.consumer == WALLET and isinstance(delivery.event, GiftPriced):
                self._check_spend_decision(delivery)
            elif delivery.consumer == WALLET and isinstance(delivery.event, PurchaseCompleted):
                self._check_purchase_decision(delivery)
            elif delivery.consumer == GIFTING and isinstance(delivery.event, GiftRequested):
                self._check_gift_decision(delivery)
            elif delivery.consumer == PAYOUT and isinstance(delivery.event, PayoutRequested):
                self._check_payout_decision(delivery)
        self.checked = len(deliveries)

    @invariant()
    def coins_are_conserved(self):
        totals = defaultdict(int)
        per_user: dict[str, dict[str, int]] = {user: defaultdict(int) for user in USERS}
        for event in self.economy.log:
            if not isinstance(event, WalletEvent):
                continue
            mine = per_user[event.user_id]
            match event:
                case CoinsPurchased():
                    mine["credited"] += event.coins
                    mine["purchased"] += event.coins - event.debt_repaid
                    mine["repaid"] += event.debt_repaid
                case PromoCoinsCredited():
                    mine["credited"] += event.coins
                    mine["promo"] += event.coins - event.debt_repaid
                    mine["repaid"] += event.debt_repaid
                case PromoCoinsExpired():
                    mine["out"] += event.coins
                    mine["promo"] -= event.coins
                case CoinsSpent():
                    mine["out"] += event.coins
                    for use in event.lots:
                        mine[BUCKET[use.kind]] -= use.coins
                case CoinsClawedBack():
                    mine["out"] += event.coins
                    mine["purchased"] -= event.coins_unspent
                    covered = 0
                    for use in event.covered_by:
                        mine[BUCKET[use.kind]] -= use.coins
                        covered += use.coins
                    mine["debt_added"] += event.coins - event.coins_unspent - covered
        for user in USERS:
            wallet, mine = self.wallet(user), per_user[user]
            assert mine["credited"] - mine["out"] == balance(wallet), (user, dict(mine))
            assert sum(lot.remaining for lot in wallet.purchases) == mine["purchased"], user
            assert sum(lot.remaining for lot in wallet.promos) == mine["promo"], user
            assert wallet.debt == mine["debt_added"] - mine["repaid"], user
            for name in ("credited", "out"):
                totals[name] += mine[name]
        assert totals["credited"] - totals["out"] == sum(balance(self.wallet(u)) for u in USERS)

    @invariant()
    def only_a_clawback_takes_a_wallet_below_zero(self):
        clawed: dict[str, list[CoinsClawedBack]] = defaultdict(list)
        for event in self.economy.log:
            if isinstance(event, CoinsClawedBack):
                clawed[event.user_id].append(event)
        for user in USERS:
            wallet = self.wallet(user)
            assert spendable(wallet) >= 0 and wallet.debt >= 0, user
            if balance(wallet) < 0 or wallet.debt > 0:
                label("a wallet below zero")
                assert clawed[user], f"{user} is below zero without a clawback"
                assert wallet.frozen and spendable(wallet) == 0, wallet
            if any(event.kind is ClawbackKind.chargeback for event in clawed[user]):
                assert wallet.frozen_reason is FreezeReason.chargeback, wallet

    @invariant()
    def every_gift_settles_once_and_coins_never_change(self):
        economy = self.economy
        by_request: dict[str, dict[type, list]] = defaultdict(lambda: defaultdict(list))
        for event in economy.log:
            request_id = getattr(event, "request_id", None)
            if request_id is not None:
                by_request[request_id][type(event)].append(event)
        requested = {event.request_id for event in economy.inputs
                     if isinstance(event, GiftRequested)}
        for request_id, found in by_request.items():
            assert request_id in requested, request_id
            priced, rejected = found[GiftPriced], found[GiftRejected]
            assert len(priced) + len(rejected) == 1, (request_id, found)
            spent, refused = found[CoinsSpent], found[SpendRejected]
            sent, failed, earned = found[GiftSent], found[GiftFailed], found[DiamondsEarned]
            if rejected:
                assert not (spent or refused or sent or failed or earned), found
                continue
            price = priced[0]
            answered = not economy.is_pending(WALLET, price)
            assert len(spent) + len(refused) == int(answered), (request_id, found)
            for answer in spent + refused:
                assert (answer.user_id, answer.creator_id, answer.stream_id, answer.coins) == \
                    (price.sender_id, price.creator_id, price.stream_id, price.coins)
            assert price.coins == price.unit_coins * price.quantity
            for answer in spent:
                told = not economy.is_pending(GIFTING, answer)
                assert len(sent) == int(told) and not failed, found
                for gift in sent:
                    assert (gift.sender_id, gift.creator_id, gift.stream_id, gift.coins,
                            gift.points, gift.gift_id, gift.quantity) == \
                        (price.sender_id, price.creator_id, price.stream_id, price.coins,
                         price.points, price.gift_id, price.quantity)
                paid = not economy.is_pending(PAYOUT, answer)
                assert len(earned) == int(paid), found
                for earning in earned:
                    assert (earning.creator_id, earning.sender_id, earning.coins) == \
                        (price.creator_id, price.sender_id, answer.coins)
                    assert Fraction(earning.diamonds_per_coin) == SHARE
                    assert earning.diamonds == floor(answer.coins * SHARE), earning
            for answer in refused:
                told = not economy.is_pending(GIFTING, answer)
                assert len(failed) == int(told) and not sent and not earned, found
                for failure in failed:
                    assert failure.reason == answer.reason.value

    @invariant()
    def clawbacks_follow_the_coins(self):
        """A CoinsClawedBack names exactly the gifts its purchase funded (from the CoinsSpent
        lot uses), and payout claws each gift's diamonds pro rata to the funding coins."""
        economy = self.economy
        funded: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
        used: dict[str, int] = defaultdict(int)
        purchased: dict[str, CoinsPurchased] = {}
        clawed_coins: dict[str, int] = defaultdict(int)
        clawed_pairs: set[tuple[str, str]] = set()
        for event in economy.log:
            if isinstance(event, CoinsPurchased):
                purchased[event.purchase_id] = event
                used[event.purchase_id] += event.debt_repaid
            elif isinstance(event, CoinsSpent):
                for use in event.lots:
                    if use.kind is LotKind.purchase:
                        key = (event.request_id, event.creator_id)
                        gifts = funded[use.lot_id]
                        gifts[key] = gifts.get(key, 0) + use.coins
                        used[use.lot_id] += use.coins
            elif isinstance(event, CoinsClawedBack):
                lot = purchased[event.purchase_id]
                assert (event.user_id, event.coins, event.amount_minor, event.currency) == \
                    (lot.user_id, lot.coins, lot.amount_minor, lot.currency), event
                assert event.coins_unspent == lot.coins - used[event.purchase_id], event
                assert event.purchase_id not in {u.lot_id for u in event.covered_by}
                assert sum(u.coins for u in event.covered_by) <= used[event.purchase_id]
                for use in event.covered_by:
                    if use.kind is LotKind.purchase:
                        used[use.lot_id] += use.coins
                expected = [(r, c, coins) for (r, c), coins in
                            funded[event.purchase_id].items()]
                assert [(g.request_id, g.creator_id, g.coins) for g in event.funded_gifts] \
                    == expected, event
                if not economy.is_pending(PAYOUT, event):
                    for request_id, _, coins in expected:
                        clawed_coins[request_id] += coins
                        clawed_pairs.add((event.purchase_id, request_id))
        earned = {e.request_id: e for e in economy.log if isinstance(e, DiamondsEarned)}
        taken: dict[str, list[DiamondsClawedBack]] = defaultdict(list)
        for event in economy.log:
            if isinstance(event, DiamondsClawedBack):
                taken[event.request_id].append(event)
        assert {(e.purchase_id, e.request_id) for events in taken.values() for e in events} \
            == clawed_pairs
        assert sum(len(events) for events in taken.values()) == len(clawed_pairs)
        for request_id, coins in clawed_coins.items():
            earning = earned[request_id]
            events = taken[request_id]
            assert sum(e.coins for e in events) == coins
            assert sum(e.diamonds for e in events) == \
                earning.diamonds * coins // earning.coins, (earning, events)
            for event in events:
                assert event.creator_id == earning.creator_id
                assert event.diamonds == event.from_held + event.from_available + event.to_debt

    @invariant()
    def diamonds_are_conserved(self):
        economy = self.economy
        per: dict[str, dict[str, int]] = {c: defaultdict(int) for c in CREATORS}
        for event in economy.log:
            if not isinstance(event, PayoutEvent):
                continue
            mine = per[event.creator_id]
            match event:
                case DiamondsEarned():
                    mine["earned"] += event.diamonds
                    mine["debt"] -= event.applied_to_debt
                case DiamondsClawedBack():
                    mine["clawed"] += event.diamonds
                    mine["debt"] += event.to_debt
                case PayoutReserved():
                    mine["reserved"] += event.diamonds
                case PayoutPosted():
                    mine["reserved"] -= event.diamonds
                    mine["posted"] += event.diamonds
                case PayoutReleased():
                    mine["reserved"] -= event.diamonds
        delivered_spent = [e for e in economy.log if isinstance(e, CoinsSpent)
                           and not economy.is_pending(PAYOUT, e)]
        all_earned = sum(floor(e.coins * SHARE) for e in delivered_spent)
        assert sum(per[c]["earned"] for c in CREATORS) == all_earned
        total_balance = 0
        for creator_id in CREATORS:
            creator, mine = self.creator(creator_id), per[creator_id]
            left = mine["earned"] - mine["posted"] - mine["reserved"] - mine["clawed"]
            assert creator.debt_diamonds == mine["debt"] >= 0, (creator_id, dict(mine))
            if creator.debt_diamonds:
                label("a creator in debt")
            assert creator.reserved_diamonds == mine["reserved"] >= 0
            assert creator.withdrawn_diamonds == mine["posted"]
            assert creator.earned_diamonds == mine["earned"]
            assert creator.clawed_back_diamonds == mine["clawed"]
            for at in {creator.now(T0), creator.now(self.now)}:
                held, available = creator.held(at), creator.available(at)
                assert held >= 0 and available >= 0, (creator_id, at, held, available)
                assert left == held + available - creator.debt_diamonds, (creator_id, at)
            assert creator.balance_diamonds == left + mine["reserved"]
            total_balance += creator.balance_diamonds
        converted = sum(per[c]["posted"] for c in CREATORS)
        clawed = sum(per[c]["clawed"] for c in CREATORS)
        assert sum(per[c]["earned"] for c in CREATORS) - converted - clawed == total_balance

    @invariant()
    def money_reconciles(self):
        economy = self.economy
        values: dict[str, int] = defaultdict(int)
        coins_used: dict[str, int] = defaultdict(int)
        purchased: dict[str, CoinsPurchased] = {}
        clawed: dict[str, CoinsClawedBack] = {}
        for event in economy.log:
            if isinstance(event, CoinsPurchased):
                purchased[event.purchase_id] = event
            elif isinstance(event, CoinsClawedBack):
                clawed[event.purchase_id] = event
            uses = event.lots if isinstance(event, CoinsSpent) else (
                event.covered_by if isinstance(event, CoinsClawedBack) else ())
            for use in uses:
                if use.kind is LotKind.purchase:
                    assert use.currency == purchased[use.lot_id].currency, use
                    values[use.lot_id] += use.value_minor
                    coins_used[use.lot_id] += use.coins
                else:
                    assert use.value_minor == 0 and use.currency is None, use
        cash_in = sum(p.amount_minor for p in purchased.values())
        refunded = sum(c.amount_minor for c in clawed.values())
        gifts_and_cover = repaid = liability = 0
        for purchase_id, purchase in purchased.items():
            lot = self.wallet(purchase.user_id).purchase(purchase_id)
            used = purchase.debt_repaid + coins_used[purchase_id]
            assert lot is not None and lot.used == used, (lot, used)
            repaid_value = purchase.debt_repaid * purchase.amount_minor // purchase.coins
            total = values[purchase_id] + repaid_value
            assert total == used * purchase.amount_minor // purchase.coins, purchase_id
            assert total <= purchase.amount_minor
            if used == purchase.coins:
                assert total == purchase.amount_minor, purchase_id
            if purchase_id in clawed:
                continue
            gifts_and_cover += values[purchase_id]
            repaid += repaid_value
            remaining = lot.coins - lot.used
            liability += purchase.amount_minor - lot.used * lot.amount_minor // lot.coins
            assert remaining == lot.remaining
        assert cash_in == refunded + gifts_and_cover + repaid + liability
        # Money out: every reservation converts exactly; posted pays what was reserved.
        reserved = {e.payout_id: e for e in economy.log if isinstance(e, PayoutReserved)}
        settled: set[str] = set()
        for event in economy.log:
            if isinstance(event, PayoutReserved):
                assert event.gross_minor == event.net_minor + event.fee_minor, event
                assert event.gross_minor == floor(
                    event.diamonds * Fraction(event.minor_per_diamond))
            elif isinstance(event, PayoutPosted | PayoutReleased):
                assert event.payout_id in reserved and event.payout_id not in settled, event
                settled.add(event.payout_id)
                assert event.diamonds == reserved[event.payout_id].diamonds
                if isinstance(event, PayoutPosted):
                    assert event.net_minor == reserved[event.payout_id].net_minor
        posted = [reserved[e.payout_id] for e in economy.log if isinstance(e, PayoutPosted)]
        assert sum(r.gross_minor for r in posted) == \
            sum(r.net_minor for r in posted) + sum(r.fee_minor for r in posted)

    @invariant()
    def a_replay_equals_the_live_state(self):
        economy = self.economy
        own_wallet: dict[str, list] = defaultdict(list)
        own_creator: dict[str, list] = defaultdict(list)
        for event in economy.log:
            if isinstance(event, WalletEvent):
                own_wallet[event.user_id].append(event)
            elif isinstance(event, PayoutEvent):
                own_creator[event.creator_id].append(event)
        assert set(own_wallet) <= set(economy.wallets)
        for user_id, wallet in economy.wallets.items():
            assert replay(user_id, own_wallet[user_id]) == wallet, user_id
        assert set(own_creator) <= set(economy.creators)
        for creator_id, creator in economy.creators.items():
            assert rebuild(creator_id, own_creator[creator_id]) == creator, creator_id
        ids = [event.event_id for event in economy.log]
        assert len(set(ids)) == len(ids), "two emitted events share an id"
        assert not set(ids) & {event.event_id for event in economy.inputs}

    def teardown(self):
        """Let every lagging delivery arrive, then check everything with nothing in flight."""
        self.economy.drain()
        assert not self.economy.pending() and not self.economy.priced
        for check in (self.decisions_were_right_when_made, self.coins_are_conserved,
                      self.only_a_clawback_takes_a_wallet_below_zero,
                      self.every_gift_settles_once_and_coins_never_change,
                      self.clawbacks_follow_the_coins, self.diamonds_are_conserved,
                      self.money_reconciles, self.a_replay_equals_the_live_state):
            check()

    # -- per-decision checks -----------------------------------------------------------------

    def _check_spend_decision(self, delivery: Delivery) -> None:
        outputs = delivery.outputs
        expired = [e for e in outputs if isinstance(e, PromoCoinsExpired)]
        answers = [e for e in outputs if isinstance(e, CoinsSpent | SpendRejected)]
        assert outputs == [*expired, *answers] and len(answers) <= 1, outputs
        if not answers:
            assert delivery.event.request_id in delivery.before.requests
            return
        seen = fold(delivery.before, expired)  # what the debit was decided on
        price, answer = delivery.event, answers[0]
        user = price.sender_id
        day, month = (user, day_key(price.occurred_at)), (user, month_key(price.occurred_at))
        over = self._limit_exceeded(user, self.spent_day[day] + price.coins,
                                    self.spent_month[month] + price.coins)
        if seen.frozen:
            expected = SpendRejection.wallet_frozen
        elif self.adult[user] is not True:
            expected = SpendRejection.not_age_verified
        elif over:
            expected = SpendRejection.spending_limit_reached
        elif price.coins > balance(seen):
            expected = SpendRejection.insufficient_funds
        else:
            expected = None
        if isinstance(answer, CoinsSpent):
            label("coins spent")
            assert expected is None, (expected, answer)
            # No overspend: the balance covered it, so a wallet below zero spends nothing.
            assert 0 < price.coins <= balance(seen) and answer.balance_after >= 0
            assert sum(use.coins for use in answer.lots) == answer.coins == price.coins
            promo_left = sum(lot.remaining for lot in seen.promos)
            promo_used = sum(u.coins for u in answer.lots if u.kind is LotKind.promo)
            assert promo_used == min(promo_left, price.coins), "promo coins are spent first"
            for use in answer.lots:
                if use.kind is LotKind.promo:
                    assert price.occurred_at < self.expires[use.lot_id], "an expired promo"
            self.spent_day[day] += price.coins
            self.spent_month[month] += price.coins
        else:
            label(f"spend rejected: {answer.reason.value}")
            assert answer.reason is expected, (answer.reason, expected, seen)
            assert answer.balance_after == balance(seen)

    def _check_purchase_decision(self, delivery: Delivery) -> None:
        """Credited exactly when the figures are a listed package's (the default list, the
        only one this economy publishes), else refused with the first reason that applies."""
        purchase = delivery.event
        answers = [e for e in delivery.outputs if isinstance(e, CoinsPurchased | PurchaseRefused)]
        if delivery.before.purchase(purchase.purchase_id) is not None:
            assert answers == []  # credited before: decided once
            return
        listed = {(package_id, platform): (coins, amount)
                  for package_id, platform, coins, amount in PACKAGES}
        price = listed.get((purchase.package_id, purchase.platform.value))
        if purchase.rate_version != "packs-2026-01":
            expected = PurchaseRefusal.unknown_rate_version
        elif price is None or purchase.region != "US":
            expected = PurchaseRefusal.unknown_package
        elif purchase.coins != price[0]:
            expected = PurchaseRefusal.coins_mismatch
        elif (purchase.amount_minor, purchase.currency) != (price[1], "USD"):
            expected = PurchaseRefusal.price_mismatch
        else:
            expected = None
        [answer] = answers
        if expected is None:
            assert isinstance(answer, CoinsPurchased), answer
            return
        assert isinstance(answer, PurchaseRefused) and answer.reason is expected, answer
        assert answer.balance_after == balance(fold(delivery.before, [
            e for e in delivery.outputs if isinstance(e, PromoCoinsExpired)]))
        assert [e for e in delivery.outputs if not isinstance(e, PromoCoinsExpired)] == [answer]

    def _limit_exceeded(self, user: str, day_total: int, month_total: int) -> bool:
        for period, total in ((LimitPeriod.daily, day_total),
                              (LimitPeriod.monthly, month_total)):
            limits = [self.limits.get((user, period, setter)) for setter in LimitSetter]
            limits.append(self.caps[period])
            present = [limit for limit in limits if limit is not None]
            if present and total > min(present):
                return True
        return False

    def _check_gift_decision(self, delivery: Delivery) -> None:
        request, outputs = delivery.event, delivery.outputs
        assert len(outputs) == 1, outputs
        outcome = outputs[0]
        at = request.occurred_at
        stream = self.streams.get(request.stream_id)
        price = self.prices.get(request.gift_id)
        if not 1 <= request.quantity <= MAX_QUANTITY:
            expected = GiftRejection.bad_quantity
        elif stream is None or not (stream[1] <= at and (stream[2] is None or at < stream[2])):
            expected = GiftRejection.stream_not_live
        elif price is None:
            expected = GiftRejection.unknown_gift
        elif price[2]:
            expected = GiftRejection.gift_retired
        elif request.sender_id == stream[0]:
            expected = GiftRejection.self_gift
        else:
            expected = None
        if isinstance(outcome, GiftRejected):
            label(f"gift rejected: {outcome.reason.value}")
            assert outcome.reason is expected, (outcome, expected)
            return
        assert expected is None, (outcome, expected)
        unit, version, _ = price
        assert (outcome.creator_id, outcome.unit_coins, outcome.catalog_version) == \
            (stream[0], unit, version)
        # Campaigns boost points only: coins are the catalog price times the quantity.
        assert outcome.coins == unit * request.quantity
        applying = [(-c["multiplier"], cid) for cid, c in sorted(self.campaigns.items())
                    if c["starts"] <= at < c["ends"]
                    and (c["ended"] is None or at < c["ended"])
                    and (not c["gifts"] or request.gift_id in c["gifts"])]
        if applying:
            best_multiplier, best_id = -min(applying)[0], min(applying)[1]
        else:
            best_multiplier, best_id = Fraction(1), None
        assert outcome.campaign_id == best_id, (outcome, applying)
        assert Fraction(outcome.points_multiplier) == best_multiplier
        assert outcome.points == floor(outcome.coins * best_multiplier)
        if best_id is not None:
            label("gift boosted by a campaign")

    def _check_payout_decision(self, delivery: Delivery) -> None:
        request, outputs = delivery.event, delivery.outputs
        if not outputs:  # a redelivery of a request already decided
            return
        (outcome,) = outputs
        before: Creator = delivery.before[request.creator_id]
        at = before.now(request.occurred_at)
        rate = self.cash_rates.get(request.currency)
        if rate is not None:
            gross = floor(request.diamonds * rate[0])
            fee = min(gross, ceil(Fraction(gross * rate[1], 1_000_000)) + rate[2])
            net = gross - fee
        day_used = before.net_minor_on(request.currency, at.date())
        if isinstance(outcome, PayoutReserved):
            label("payout reserved")
            assert self.verified[request.creator_id] and before.verified
            assert rate is not None and request.currency == "USD"
            assert (outcome.gross_minor, outcome.fee_minor, outcome.net_minor) == \
                (gross, fee, net), outcome
            assert request.diamonds <= before.available(at) - before.debt_diamonds
            assert net >= max(USD_LIMITS.min_minor, 1)
            assert day_used + net <= USD_LIMITS.max_per_day_minor
            return
        assert isinstance(outcome, PayoutRejected), outcome
        label(f"payout rejected: {outcome.reason.value}")
        reason = outcome.reason
        if reason is PayoutRejection.creator_not_verified:
            assert not self.verified[request.creator_id]
        elif reason is PayoutRejection.no_cash_rate:
            assert rate is None
        elif reason is PayoutRejection.insufficient_diamonds:
            assert request.diamonds > before.available(at) - before.debt_diamonds
        elif reason is PayoutRejection.below_minimum:
            assert net < max(USD_LIMITS.min_minor, 1)
        elif reason is PayoutRejection.daily_limit_exceeded:
            assert day_used + net > USD_LIMITS.max_per_day_minor
        else:
            raise AssertionError(f"unexpected rejection {outcome}")


TestEconomy = EconomyMachine.TestCase
TestEconomy.settings = settings(max_examples=75, stateful_step_count=40, deadline=None,
                                suppress_health_check=[HealthCheck.too_slow])
