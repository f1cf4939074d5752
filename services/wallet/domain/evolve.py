"""Applying the wallet's own events to its state: how auditors and rebuilds replay.

evolve never re-decides: it applies what each event records (the lots a spend used, what a
clawback covered, the debt a credit repaid), so a replay reproduces the state the decisions
saw even if a rule changes later. It re-checks balance_after on every event that carries it: a
mismatch means the log was altered or an event is missing, and replay stops loudly
(InconsistentHistory, as for every event that cannot follow the state).

Events are applied to a `WalletDraft`, a mutable copy of a Wallet that `freeze` turns back into
one. `evolve`, `fold` (the handler's path) and long replays (one draft kept per wallet) run the
same code; a fold copies the wallet once rather than once per event, and a long replay does not
copy a wallet's decided requests and its lots' gifts again with every spend.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.wallet.domain.state import (
    PromoCoins,
    PromoLot,
    PurchaseCoins,
    PurchaseLot,
    SpendingLimit,
    Wallet,
    Window,
    balance,
    window_keys,
)
from shared.consistency import InconsistentHistory
from shared.contract.events.wallet import (
    AgeVerificationRecorded,
    ClawbackKind,
    CoinsClawedBack,
    CoinsPurchased,
    CoinsSpent,
    FreezeReason,
    FundedGift,
    LotKind,
    LotUse,
    PromoCoinsCredited,
    PromoCoinsExpired,
    PurchaseRefused,
    SpendingLimitRecorded,
    SpendRejected,
    WalletEvent,
    WalletFrozen,
    WalletUnfrozen,
)


def evolve(wallet: Wallet, event: WalletEvent) -> Wallet:
    draft = WalletDraft.of(wallet)
    draft.apply(event)
    return draft.freeze()


def fold(wallet: Wallet, events: Iterable[WalletEvent]) -> Wallet:
    draft = None
    for event in events:
        if draft is None:
            draft = WalletDraft.of(wallet)
        draft.apply(event)
    return wallet if draft is None else draft.freeze()


def replay(user_id: str, events: Iterable[WalletEvent]) -> Wallet:
    """The wallet rebuilt from its own events alone."""
    return fold(Wallet(user_id), events)


@dataclass(slots=True)
class PurchaseDraft(PurchaseCoins):
    """A PurchaseLot that events are changing: its fields, mutable."""

    purchase_id: str
    coins: int
    amount_minor: int
    currency: str
    rate_version: str
    acquired_at: datetime
    used: int
    gifts: list[FundedGift]
    clawed_back: ClawbackKind | None
    funded_apart: int

    @classmethod
    def of(cls, lot: PurchaseLot) -> PurchaseDraft:
        return cls(lot.purchase_id, lot.coins, lot.amount_minor, lot.currency, lot.rate_version,
                   lot.acquired_at, lot.used, list(lot.gifts), lot.clawed_back,
                   lot.funded_apart)

    def freeze(self) -> PurchaseLot:
        return PurchaseLot(self.purchase_id, self.coins, self.amount_minor, self.currency,
                           self.rate_version, self.acquired_at, self.used, tuple(self.gifts),
                           self.clawed_back, self.funded_apart)

    def fund(self, request_id: str, creator_id: str, coins: int) -> None:
        """One entry per gift: a second use of the lot by the same spend adds to its entry (the
        request is decided once, so that entry is the last one)."""
        gifts = self.gifts
        if gifts and gifts[-1].request_id == request_id:
            coins += gifts.pop().coins
        gifts.append(FundedGift(request_id=request_id, creator_id=creator_id, coins=coins))


@dataclass(slots=True)
class PromoDraft(PromoCoins):
    """A PromoLot that events are changing: its fields, mutable."""

    grant_id: str
    coins: int
    expires_at: datetime
    granted_at: datetime
    used: int
    expired: bool

    @classmethod
    def of(cls, lot: PromoLot) -> PromoDraft:
        return cls(lot.grant_id, lot.coins, lot.expires_at, lot.granted_at, lot.used,
                   lot.expired)

    def freeze(self) -> PromoLot:
        return PromoLot(self.grant_id, self.coins, self.expires_at, self.granted_at, self.used,
                        self.expired)


@dataclass(slots=True)
class WalletDraft:
    """A mutable fold over one wallet's events: apply them one by one, and `freeze` a Wallet
    (a copy) whenever one is needed. Wallet's fields, with a set for `requests`; a lot of the
    wallet it started from becomes a draft only when an event changes it, so freezing rebuilds
    only the lots that changed or are new."""

    user_id: str
    purchases: list[PurchaseLot | PurchaseDraft]
    promos: list[PromoLot | PromoDraft]
    debt: int
    frozen_reason: FreezeReason | None
    adult: bool | None
    limits: tuple[SpendingLimit, ...]
    spent_today: Window
    spent_this_month: Window
    requests: set[str]
    purchase_index: dict[str, int]
    """Position in `purchases` by purchase_id (unique: a second credit of one is refused)."""
    promo_index: dict[str, int]
    """Position in `promos` by grant_id (unique likewise)."""
    running_balance: int
    """balance() of the draft, kept up to date by every change to a lot or the debt: events
    that carry balance_after are checked against it without summing every lot again."""

    @classmethod
    def of(cls, wallet: Wallet) -> WalletDraft:
        return cls(wallet.user_id, list(wallet.purchases), list(wallet.promos), wallet.debt,
                   wallet.frozen_reason, wallet.adult, wallet.limits, wallet.spent_today,
                   wallet.spent_this_month, set(wallet.requests),
                   _positions(lot.purchase_id for lot in wallet.purchases),
                   _positions(lot.grant_id for lot in wallet.promos), balance(wallet))

    def freeze(self) -> Wallet:
        return Wallet(
            self.user_id,
            tuple(lot.freeze() if isinstance(lot, PurchaseDraft) else lot
                  for lot in self.purchases),
            tuple(lot.freeze() if isinstance(lot, PromoDraft) else lot for lot in self.promos),
            self.debt, self.frozen_reason, self.adult, self.limits, self.spent_today,
            self.spent_this_month, frozenset(self.requests))

    def apply(self, event: WalletEvent) -> None:
        self.apply_unchecked(event)
        if _carries_balance(event):
            recorded = event.balance_after  # type: ignore[attr-defined]
            if recorded is not None and recorded != self.running_balance:
                raise InconsistentHistory(f"{event.type} {event.event_id} says balance "
                                          f"{recorded}, replay gives {self.running_balance}")

    def apply_unchecked(self, event: WalletEvent) -> None:
        """`apply` without checking the event's balance_after against the replay: for tools
        that show where a recorded balance departs from the events instead of stopping there
        (ops.explain). An event the wallet could not have applied still raises."""
        if event.user_id != self.user_id:
            raise InconsistentHistory(f"{event.type} {event.event_id} of {event.user_id}"
                                      f" applied to {self.user_id}")
        self._apply(event)

    def _apply(self, event: WalletEvent) -> None:  # noqa: C901 - one case per type
        match event:
            case CoinsPurchased():
                _check(event.purchase_id not in self.purchase_index, "lot credited twice",
                       event)
                self.purchase_index[event.purchase_id] = len(self.purchases)
                self.purchases.append(PurchaseDraft(
                    event.purchase_id, event.coins, event.amount_minor, event.currency,
                    event.rate_version, event.occurred_at, used=event.debt_repaid, gifts=[],
                    clawed_back=None, funded_apart=0))
                self.debt -= event.debt_repaid
                # The lot's remaining coins, plus the debt its first coins paid off.
                self.running_balance += event.coins
            case PromoCoinsCredited():
                _check(event.grant_id not in self.promo_index, "lot credited twice", event)
                self.promo_index[event.grant_id] = len(self.promos)
                self.promos.append(PromoDraft(event.grant_id, event.coins, event.expires_at,
                                              event.occurred_at, used=event.debt_repaid,
                                              expired=False))
                self.debt -= event.debt_repaid
                self.running_balance += event.coins
            case PromoCoinsExpired():
                self._expire(event)
            case CoinsSpent():
                _check(event.request_id not in self.requests, "request decided twice", event)
                _check(sum(use.coins for use in event.lots) == event.coins,
                       "lot uses do not add up to the coins spent", event)
                self._take(event.lots, gift=(event.request_id, event.creator_id))
                self.requests.add(event.request_id)
                day, month = window_keys(event.occurred_at)
                self.spent_today = self.spent_today.add(day, event.coins)
                self.spent_this_month = self.spent_this_month.add(month, event.coins)
            case SpendRejected():
                _check(event.request_id not in self.requests, "request decided twice", event)
                self.requests.add(event.request_id)
            case PurchaseRefused():
                # A refusal credits nothing and keeps nothing; a purchase credited before is
                # never decided again, so it cannot be refused after.
                _check(event.purchase_id not in self.purchase_index,
                       "refusal of a purchase credited before", event)
            case CoinsClawedBack():
                self._claw_back(event)
            case WalletFrozen():
                self.frozen_reason = FreezeReason(event.reason)
            case WalletUnfrozen():
                self.frozen_reason = None
            case AgeVerificationRecorded():
                self.adult = event.adult
            case SpendingLimitRecorded():
                self._record_limit(event)
            case _:
                raise TypeError(f"the wallet does not apply {type(event).__name__}")

    def _purchase(self, purchase_id: str) -> PurchaseDraft:
        """The lot as a draft, to change it."""
        index = self.purchase_index.get(purchase_id)
        if index is None:
            raise InconsistentHistory(f"no lot {purchase_id!r}: the event does not belong to "
                                      f"this wallet")
        lot = self.purchases[index]
        if isinstance(lot, PurchaseLot):
            lot = self.purchases[index] = PurchaseDraft.of(lot)
        return lot

    def _promo(self, grant_id: str) -> PromoDraft:
        index = self.promo_index.get(grant_id)
        if index is None:
            raise InconsistentHistory(f"no lot {grant_id!r}: the event does not belong to "
                                      f"this wallet")
        lot = self.promos[index]
        if isinstance(lot, PromoLot):
            lot = self.promos[index] = PromoDraft.of(lot)
        return lot

    def _take(self, uses: Sequence[LotUse], gift: tuple[str, str] | None = None) -> None:
        """Take recorded uses out of their lots; `gift` (request_id, creator_id) marks the uses
        of purchase lots as funding that gift, for a later clawback's funded_gifts."""
        for use in uses:
            lot: PurchaseDraft | PromoDraft
            if use.kind is LotKind.promo:
                lot = self._promo(use.lot_id)
            else:
                lot = self._purchase(use.lot_id)
            if not 0 < use.coins <= lot.remaining:
                raise InconsistentHistory(f"{use.coins} coins taken from {lot.freeze()}")
            lot.used += use.coins
            # The lot still holds coins (checked above), so its remaining fell by exactly these.
            self.running_balance -= use.coins
            if gift is not None and isinstance(lot, PurchaseDraft):
                lot.fund(gift[0], gift[1], use.coins)

    def _expire(self, event: PromoCoinsExpired) -> None:
        index = self.promo_index.get(event.grant_id)
        lot = None if index is None else self.promos[index]
        if lot is None or lot.remaining != event.coins:
            raise InconsistentHistory(f"expiry of other coins than the lot holds "
                                      f"({_frozen(lot)}): {event.type} {event.event_id}")
        self._promo(event.grant_id).expired = True
        self.running_balance -= event.coins

    def _claw_back(self, event: CoinsClawedBack) -> None:
        index = self.purchase_index.get(event.purchase_id)
        lot = None if index is None else self.purchases[index]
        if lot is None or lot.clawed_back is not None:
            raise InconsistentHistory(f"clawback of a lot never credited or clawed back before "
                                      f"({_frozen(lot)}): {event.type} {event.event_id}")
        if (lot.coins, lot.remaining) != (event.coins, event.coins_unspent):
            raise InconsistentHistory(f"clawback of other coins than the lot holds "
                                      f"({_frozen(lot)}): {event.type} {event.event_id}")
        covered = sum(use.coins for use in event.covered_by)
        debt_added = event.coins - event.coins_unspent - covered
        _check(debt_added >= 0, "clawback covers more than it claws back", event)
        self._purchase(event.purchase_id).clawed_back = event.kind
        self.running_balance -= event.coins_unspent
        self.debt += debt_added
        self.running_balance -= debt_added
        self._take(event.covered_by)

    def _record_limit(self, event: SpendingLimitRecorded) -> None:
        others = tuple(limit for limit in self.limits
                       if (limit.period, limit.set_by) != (event.period, event.set_by))
        if event.coins is None:
            self.limits = others
            return
        limit = SpendingLimit(event.period, event.set_by, event.coins)
        self.limits = tuple(sorted((*others, limit),
                                   key=lambda entry: (entry.period, entry.set_by)))


def _check(condition: bool, problem: str, event: WalletEvent) -> None:
    if not condition:
        raise InconsistentHistory(f"{problem}: {event.type} {event.event_id}")


def _frozen(lot: object) -> object:
    """A lot as problems name it: the frozen lot, as the wallet holds it."""
    return lot.freeze() if isinstance(lot, PurchaseDraft | PromoDraft) else lot


def _positions(ids: Iterable[str]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, lot_id in enumerate(ids):
        positions.setdefault(lot_id, index)
    return positions


_BALANCE_CARRIED: dict[type, bool] = {}


def _carries_balance(event: WalletEvent) -> bool:
    """Whether the event's type has a balance_after field (cached per type: asking a model
    for a field it lacks is slow, and asking the class for its fields is not free either)."""
    kind = type(event)
    carried = _BALANCE_CARRIED.get(kind)
    if carried is None:
        carried = _BALANCE_CARRIED[kind] = "balance_after" in kind.model_fields
    return carried
