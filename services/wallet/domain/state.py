"""The wallet's state: lots of coins, debt, freeze, the facts that gate spending, and the
spending windows. Nothing here decides; see the decide_* modules and evolve.

Invariants (checked by the property tests):
- balance = spendable coins - debt, and debt > 0 only when spendable == 0: credits pay debt off
  before anything else, and a clawback only leaves debt once it has used every other coin.
- debt > 0 only after a clawback, and then the wallet is frozen.

The parts of a wallet that grow with its history are only ever looked up one by one; the
service keeps them apart from its snapshot (see lookups.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from shared.contract.events.policy import SpendingPolicySet
from shared.contract.events.users import LimitPeriod, LimitSetter
from shared.contract.events.wallet import ClawbackKind, FreezeReason, FundedGift

if TYPE_CHECKING:
    from services.wallet.domain.evolve import WalletDraft


class PurchaseCoins:
    """What is left of a purchase lot: one rule for PurchaseLot and the mutable draft evolve
    folds events into (evolve.PurchaseDraft)."""

    __slots__ = ()
    coins: int
    used: int
    clawed_back: ClawbackKind | None
    gifts: Sequence[FundedGift]
    funded_apart: int

    @property
    def remaining(self) -> int:
        return 0 if self.clawed_back is not None else self.coins - self.used

    @property
    def gifts_funded(self) -> int:
        """Entries of the lot's funded gifts, those kept apart included: the position the next
        one takes."""
        return self.funded_apart + len(self.gifts)


class PromoCoins:
    """What is left of a promo lot: one rule for PromoLot and evolve.PromoDraft."""

    __slots__ = ()
    coins: int
    used: int
    expired: bool

    @property
    def remaining(self) -> int:
        return 0 if self.expired else self.coins - self.used


@dataclass(frozen=True, slots=True)
class PurchaseLot(PurchaseCoins):
    """Coins bought in one purchase, and everything that took coins out of it."""

    purchase_id: str
    coins: int
    amount_minor: int
    currency: str
    rate_version: str
    acquired_at: datetime
    used: int = 0
    """Coins taken out so far: gifts, debt repayment, cover for another purchase's clawback."""
    gifts: tuple[FundedGift, ...] = ()
    """The gifts this lot funded, coins from this lot only, one entry per gift in the order
    spent: a clawback names them. Only those after the first `funded_apart` when some are kept
    apart."""
    clawed_back: ClawbackKind | None = None
    funded_apart: int = 0
    """How many of the lot's first funded gifts are kept apart (rows of their own), not in
    `gifts`."""


@dataclass(frozen=True, slots=True)
class PromoLot(PromoCoins):
    """Coins granted for free, spendable while event time < expires_at."""

    grant_id: str
    coins: int
    expires_at: datetime
    granted_at: datetime
    used: int = 0
    expired: bool = False


Lot = PurchaseLot | PromoLot


@dataclass(frozen=True, slots=True)
class SpendingLimit:
    """A cap recorded from users.spending_limit_set, per period and per setter."""

    period: LimitPeriod
    set_by: LimitSetter
    coins: int


@dataclass(frozen=True, slots=True)
class Window:
    """Coins spent in one UTC day ("2026-03-31") or month ("2026-03"). Windows never move
    backwards: a spend stamped before the current window counts against the current one, so an
    out-of-order timestamp can only make a limit stricter, never looser."""

    key: str = ""
    coins: int = 0

    def spent_at(self, key: str) -> int:
        return self.coins if key <= self.key else 0

    def add(self, key: str, coins: int) -> Window:
        if key > self.key:
            return Window(key, coins)
        return Window(self.key, self.coins + coins)


def window_keys(at: datetime) -> tuple[str, str]:
    """The UTC day ("2026-03-31") and month ("2026-03") of an instant, converted once."""
    if at.utcoffset() == _NO_OFFSET:
        # At UTC the local date is the UTC date, and converting and formatting it for every
        # spend costs more than looking it up.
        utc_date = at.date()
        keys = _UTC_WINDOW_KEYS.get(utc_date)
        if keys is None:
            if len(_UTC_WINDOW_KEYS) >= _UTC_WINDOW_KEYS_KEPT:
                _UTC_WINDOW_KEYS.clear()
            keys = _UTC_WINDOW_KEYS[utc_date] = _converted_window_keys(at)
        return keys
    return _converted_window_keys(at)


def _converted_window_keys(at: datetime) -> tuple[str, str]:
    day = at.astimezone(UTC).date().isoformat()
    return day, day[:7]


_NO_OFFSET = timedelta(0)
_UTC_WINDOW_KEYS: dict[date, tuple[str, str]] = {}
"""window_keys of instants at UTC, by date."""
_UTC_WINDOW_KEYS_KEPT = 4096
"""Enough days for any replay; a bound so a long-lived process cannot grow it without end."""


def day_key(at: datetime) -> str:
    return window_keys(at)[0]


def month_key(at: datetime) -> str:
    return window_keys(at)[1]


@dataclass(frozen=True, slots=True)
class SpendingPolicy:
    """The platform-wide caps in effect (the latest policy.spending_policy_set), passed to
    decide_spend as a plain value; its rate_version is recorded on the decision."""

    rate_version: str
    daily_coins: int | None = None
    monthly_coins: int | None = None

    @classmethod
    def from_event(cls, event: SpendingPolicySet) -> SpendingPolicy:
        return cls(event.rate_version, event.daily_coins, event.monthly_coins)

    def cap(self, period: LimitPeriod) -> int | None:
        return self.daily_coins if period is LimitPeriod.daily else self.monthly_coins


@dataclass(frozen=True, slots=True)
class Wallet:
    """One user's coins. Rebuilt exactly by folding evolve over the wallet's own events."""

    user_id: str
    purchases: tuple[PurchaseLot, ...] = ()
    """In the order credited, which is the FIFO order of spending; a lot that holds no coins
    and was kept apart (lookups.py) comes back after the others."""
    promos: tuple[PromoLot, ...] = ()
    """In the order credited (likewise); spending sorts them by expiry."""
    debt: int = 0
    frozen_reason: FreezeReason | None = None
    adult: bool | None = None
    """None until users.age_verified: unknown is not an adult."""
    limits: tuple[SpendingLimit, ...] = ()
    spent_today: Window = field(default_factory=Window)
    spent_this_month: Window = field(default_factory=Window)
    requests: frozenset[str] = frozenset()
    """Gift request ids already decided (spent or rejected): a repeat decides nothing. Those
    kept apart (lookups.py) are not here."""

    @property
    def frozen(self) -> bool:
        return self.frozen_reason is not None

    def purchase(self, purchase_id: str) -> PurchaseLot | None:
        return next((lot for lot in self.purchases if lot.purchase_id == purchase_id), None)

    def promo(self, grant_id: str) -> PromoLot | None:
        return next((lot for lot in self.promos if lot.grant_id == grant_id), None)

    def limit(self, period: LimitPeriod, set_by: LimitSetter) -> int | None:
        return next((limit.coins for limit in self.limits
                     if limit.period is period and limit.set_by is set_by), None)


def spendable(wallet: Wallet | WalletDraft) -> int:
    """Coins left in lots (never negative)."""
    return (sum(lot.remaining for lot in wallet.purchases)
            + sum(lot.remaining for lot in wallet.promos))


def balance(wallet: Wallet | WalletDraft) -> int:
    """Spendable coins minus debt: below zero only after a clawback."""
    return spendable(wallet) - wallet.debt


def coins_by_source(wallet: Wallet) -> tuple[int, int]:
    """(purchased, promo) coins still spendable."""
    return (sum(lot.remaining for lot in wallet.purchases),
            sum(lot.remaining for lot in wallet.promos))


def assert_swept(wallet: Wallet, now: datetime) -> None:
    """Deciding on a wallet that still holds promo coins expired at `now` is a caller bug:
    decide() runs decide_expiry first, so expired coins are never spent or counted."""
    stale = [lot.grant_id for lot in wallet.promos if lot.remaining and lot.expires_at <= now]
    assert not stale, f"promo lots {stale} expired at {now}: run decide_expiry first"
