"""Every earning, conversion and price at the rate of the version it names.

Policy (policy.changes, one partition, plus the built-in defaults of
shared/contract/defaults.py) and catalog versions may be read after the decisions that used
them (partitions are read concurrently), so the decisions are kept as small tuples and checked
in `finish`.

- DiamondsEarned: rate_version is a CreatorShareSet with the same diamonds_per_coin;
  diamonds == floor(coins * diamonds_per_coin); available_at == occurred_at + hold_s of
  hold_rate_version (when recorded).
- PayoutReserved: rate_version is a DiamondCashRateSet of the same currency and
  minor_per_diamond (and fee terms when recorded); gross, fee and net are exactly
  services/payout/domain/money.convert (gross floor, fee ceil + fixed capped at gross).
- GiftPriced: coins == unit_coins * quantity; unit_coins is the gift's price at
  catalog_version; points == floor(coins * points_multiplier).
- CoinsPurchased: its rate_version prices some package at exactly its coins, amount_minor and
  currency (the first price of each key stands, as in the wallet; the credit does not name its
  package). PurchaseRefused: when it names listed figures they are that key's price, and the
  purchase's figures differ from them as its reason says. An unknown rate_version or package
  is not checked: the price may have been published after the purchase was decided.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from ops.audit.model import Invariant, Location
from services.payout.domain.money import convert, floor_mul
from shared.contract.defaults import default_policy
from shared.contract.events.catalog import GiftListed, GiftRepriced
from shared.contract.events.gifting import GiftPriced
from shared.contract.events.payout import DiamondsEarned, PayoutReserved
from shared.contract.events.policy import (
    CoinPackagePriced,
    CreatorShareSet,
    DiamondCashRateSet,
    HoldPeriodSet,
    PolicyEvent,
)
from shared.contract.events.wallet import CoinsPurchased, PurchaseRefusal, PurchaseRefused


class RateBook:
    def __init__(self, invariant: Invariant):
        self.invariant = invariant
        self.shares: dict[str, Decimal] = {}
        self.holds: dict[str, int] = {}
        self.cash: dict[str, DiamondCashRateSet] = {}
        self.latest_cash: dict[str, DiamondCashRateSet] = {}
        self.prices: dict[tuple[str, int], int] = {}
        self.earnings: list[tuple] = []
        self.reservations: list[tuple] = []
        self.priced: list[tuple] = []
        self.packages: dict[tuple[str, str, str, str], tuple[int, int, str]] = {}
        """(rate_version, package_id, platform, region) -> (coins, amount_minor, currency)."""
        self.purchases: list[tuple[Location, CoinsPurchased]] = []
        self.refusals: list[tuple[Location, PurchaseRefused]] = []
        self._floors: dict[tuple[int, Decimal], int] = {}
        for event in default_policy():
            self.policy(event)

    def policy(self, event: PolicyEvent) -> None:
        if isinstance(event, CreatorShareSet):
            self.shares[event.rate_version] = event.diamonds_per_coin
        elif isinstance(event, HoldPeriodSet):
            self.holds[event.rate_version] = event.hold_s
        elif isinstance(event, DiamondCashRateSet):
            self.cash[event.rate_version] = event
            self.latest_cash[event.currency] = event
        elif isinstance(event, CoinPackagePriced):
            self.packages.setdefault(
                (event.rate_version, event.package_id, event.platform, event.region),
                (event.coins, event.amount_minor, event.currency))

    def credited(self, event: CoinsPurchased, at: Location) -> None:
        self.purchases.append((at, event))

    def refused(self, event: PurchaseRefused, at: Location) -> None:
        self.refusals.append((at, event))

    def catalog(self, event: GiftListed | GiftRepriced) -> None:
        self.prices.setdefault((event.gift_id, event.catalog_version), event.coins)

    def earned(self, event: DiamondsEarned, at: Location) -> None:
        self.earnings.append((at, event.rate_version, event.diamonds_per_coin, event.coins,
                              event.diamonds, event.hold_rate_version, event.occurred_at,
                              event.available_at))

    def reserved(self, event: PayoutReserved, at: Location) -> None:
        self.reservations.append((at, event))

    def floor_mul(self, amount: int, rate: Decimal) -> int:
        """services' floor_mul, remembered: the log holds few distinct (amount, rate) pairs
        (gift prices times a handful of rates), and exact Decimal products are slow."""
        try:
            return self._floors[(amount, rate)]
        except KeyError:
            product = self._floors[(amount, rate)] = floor_mul(amount, rate)
            return product

    def gift_priced(self, event: GiftPriced, at: Location) -> None:
        invariant = self.invariant
        if event.coins == event.unit_coins * event.quantity:
            invariant.ok()
        else:
            invariant.fail(f"gift {event.request_id}: coins {event.coins} != "
                           f"{event.unit_coins} x {event.quantity}", at)
        points = self.floor_mul(event.coins, event.points_multiplier)
        if event.points == points:
            invariant.ok()
        else:
            invariant.fail(f"gift {event.request_id}: points {event.points} != "
                           f"floor({event.coins} x {event.points_multiplier}) = {points}", at)
        self.priced.append((at, event.request_id, event.gift_id, event.catalog_version,
                            event.unit_coins))

    def finish(self) -> dict:
        invariant = self.invariant
        check = invariant.check
        passed = 0
        holds: dict[str, timedelta | None] = {}
        for at, version, share, coins, diamonds, hold_version, occurred, available in \
                self.earnings:
            published = self.shares.get(version)
            if published is None or published != share:
                invariant.fail(f"earning at {share} diamonds/coin under {version!r}, "
                               f"published: {published}", at)
                continue
            passed += 1
            expected = self.floor_mul(coins, share)
            if diamonds == expected:
                passed += 1
            else:
                invariant.fail(f"{coins} coins earned {diamonds} diamonds, floor({coins} x "
                               f"{share}) = {expected}", at)
            if hold_version is not None:
                try:
                    hold = holds[hold_version]
                except KeyError:
                    hold_s = self.holds.get(hold_version)
                    hold = holds[hold_version] = (None if hold_s is None
                                                  else timedelta(seconds=hold_s))
                if hold is not None and available == occurred + hold:
                    passed += 1
                else:
                    invariant.fail(f"available_at {available.isoformat()} is not occurred_at "
                                   f"+ hold of {hold_version!r} "
                                   f"({self.holds.get(hold_version)} s)", at)
        invariant.ok(passed)
        for at, event in self.reservations:
            rate = self.cash.get(event.rate_version)
            if not check(rate is not None and rate.currency == event.currency
                         and rate.minor_per_diamond == event.minor_per_diamond,
                         f"payout {event.payout_id} at {event.minor_per_diamond} "
                         f"{event.currency}/diamond under {event.rate_version!r}, published: "
                         f"{rate.minor_per_diamond if rate else None} "
                         f"{rate.currency if rate else ''}", at):
                continue
            assert rate is not None
            check(event.fee_ppm in (None, rate.fee_ppm)
                  and event.fee_fixed_minor in (None, rate.fee_fixed_minor),
                  f"payout {event.payout_id}: fee terms {event.fee_ppm} ppm + "
                  f"{event.fee_fixed_minor}, published {rate.fee_ppm} + "
                  f"{rate.fee_fixed_minor}", at)
            cash = convert(event.diamonds, rate.minor_per_diamond, rate.fee_ppm,
                           rate.fee_fixed_minor)
            check((event.gross_minor, event.fee_minor, event.net_minor)
                  == (cash.gross_minor, cash.fee_minor, cash.net_minor),
                  f"payout {event.payout_id}: gross/fee/net {event.gross_minor}/"
                  f"{event.fee_minor}/{event.net_minor}, the rate gives {cash.gross_minor}/"
                  f"{cash.fee_minor}/{cash.net_minor}", at)
        for at, request_id, gift_id, version, unit_coins in self.priced:
            price = self.prices.get((gift_id, version))
            check(price == unit_coins,
                  f"gift {request_id}: {gift_id} at {unit_coins} coins, catalog version "
                  f"{version} says {price}", at)
        self._check_purchases()
        return {"share_versions": sorted(self.shares), "cash_rate_versions": sorted(self.cash),
                "earnings_checked": len(self.earnings),
                "payouts_checked": len(self.reservations),
                "purchases_checked": len(self.purchases) + len(self.refusals)}

    def _check_purchases(self) -> None:
        check = self.invariant.check
        listed = {(key[0], *figures) for key, figures in self.packages.items()}
        for at, credit in self.purchases:
            check((credit.rate_version, credit.coins, credit.amount_minor, credit.currency)
                  in listed,
                  f"purchase {credit.purchase_id} credited {credit.coins} coins for "
                  f"{credit.amount_minor} {credit.currency}: no package of "
                  f"{credit.rate_version!r} is priced so", at)
        for at, refusal in self.refusals:
            if refusal.listed_coins is None:
                continue
            price = self.packages.get((refusal.rate_version, refusal.package_id,
                                       refusal.platform, refusal.region))
            figures = (refusal.listed_coins, refusal.listed_amount_minor, refusal.listed_currency)
            check(price == figures and _reason_holds(refusal),
                  f"purchase {refusal.purchase_id} refused ({refusal.reason}) against "
                  f"{figures}, the price list says {price}", at)

    def diamond_value(self, diamonds: int, currency: str) -> int:
        """Cash value of diamonds at the latest rate of `currency` (floor); 0 without one."""
        rate = self.latest_cash.get(currency)
        return floor_mul(diamonds, rate.minor_per_diamond) if rate else 0


def _reason_holds(refusal: PurchaseRefused) -> bool:
    """Whether the purchase's figures differ from the listed ones as the reason says (coins are
    compared first)."""
    if refusal.coins != refusal.listed_coins:
        return refusal.reason is PurchaseRefusal.coins_mismatch
    return (refusal.reason is PurchaseRefusal.price_mismatch
            and (refusal.amount_minor, refusal.currency)
            != (refusal.listed_amount_minor, refusal.listed_currency))
