"""Per-wallet replay of wallet.ledger (one partition per wallet, so in order): coin
conservation, no overspend, lot cash values.

A fold of its own, not services/wallet/domain's (see ops/audit/__init__.py): the same rules,
written again from the product's definitions, so that a mistake in the domain shows up as a
disagreement instead of being repeated here (tests/unit/test_folds_agree.py requires both to
give the same figures).

The state is rebuilt from what each event records, with the wallet's exact semantics:
- a credit (CoinsPurchased, PromoCoinsCredited) adds a lot of `coins`; its first `debt_repaid`
  coins pay the debt off (they count as used coins of the lot): balance += coins;
- PromoCoinsExpired removes the rest of a promo lot (`coins` must be what was left);
- CoinsSpent takes `lots` out of the lots (their sum must be `coins`): balance -= coins;
- CoinsClawedBack removes the whole purchase: its remaining coins (`coins_unspent`), the spent
  part from other lots (`covered_by`) and the rest as debt
  (coins - coins_unspent - sum(covered_by)): balance -= coins;
- PurchaseRefused mints nothing: the balance stays, and the purchase must not be one credited
  before (a credited purchase is never decided again);
- balance = coins left in lots - debt, and must equal every recorded balance_after.
A purchase lot's coins are valued by cumulative allocation (floor(used * amount / coins)), so
every LotUse.value_minor is checked exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from ops.audit.ledger import Ledger
from ops.audit.model import Invariant, Location
from shared.contract.events.wallet import (
    CoinsClawedBack,
    CoinsPurchased,
    CoinsSpent,
    FreezeReason,
    LotKind,
    LotUse,
    PromoCoinsCredited,
    PromoCoinsExpired,
    PurchaseRefused,
    SpendRejected,
    WalletEvent,
    WalletFrozen,
    WalletUnfrozen,
)


@dataclass(slots=True)
class PurchaseLot:
    coins: int
    amount_minor: int
    currency: str
    used: int = 0
    clawed: bool = False

    @property
    def remaining(self) -> int:
        return 0 if self.clawed else self.coins - self.used

    def value_of_first(self, coins: int) -> int:
        return coins * self.amount_minor // self.coins

    @property
    def remaining_value(self) -> int:
        return 0 if self.clawed else self.amount_minor - self.value_of_first(self.used)


@dataclass(slots=True)
class PromoLot:
    coins: int
    used: int = 0
    expired: bool = False

    @property
    def remaining(self) -> int:
        return 0 if self.expired else self.coins - self.used


@dataclass(slots=True)
class WalletState:
    purchases: dict[str, PurchaseLot] = field(default_factory=dict)
    promos: dict[str, PromoLot] = field(default_factory=dict)
    debt: int = 0
    frozen: str | None = None
    recorded: int | None = None
    """The last balance_after recorded."""
    credited: int = 0
    spent: int = 0
    clawed: int = 0
    expired: int = 0
    in_lots: int = 0
    """The coins left in the lots (the sum of their `remaining`), kept up to date by every
    change of a lot (WalletBook adds, uses, claws back and expires lots only through
    `add_lot`, `take` and `close`), so the balance is not a sum over every lot per event."""

    @property
    def balance(self) -> int:
        return self.in_lots - self.debt

    def recount(self) -> int:
        """The balance summed over every lot, as `balance` must always equal."""
        return (sum(lot.remaining for lot in self.purchases.values())
                + sum(lot.remaining for lot in self.promos.values()) - self.debt)

    def add_lot(self, lots: dict, lot_id: str, lot: PurchaseLot | PromoLot) -> None:
        lots[lot_id] = lot
        self.in_lots += lot.remaining

    def take(self, lot: PurchaseLot | PromoLot, coins: int) -> None:
        """Use `coins` of an open lot (0 < coins <= lot.remaining)."""
        lot.used += coins
        self.in_lots -= coins

    def close(self, lot: PurchaseLot | PromoLot) -> None:
        """Claw back a purchase lot or expire a promo lot: nothing of it remains."""
        self.in_lots -= lot.remaining
        if isinstance(lot, PurchaseLot):
            lot.clawed = True
        else:
            lot.expired = True


class WalletBook:
    def __init__(self, invariants: dict[str, Invariant], ledger: Ledger):
        self.conservation = invariants["coin_conservation"]
        self.overspend = invariants["no_overspend"]
        self.money = invariants["money"]
        self.ledger = ledger
        self.wallets: dict[str, WalletState] = defaultdict(WalletState)
        self.consumed_value: dict[str, int] = defaultdict(int)
        """Cash value of purchased coins used (gifts, debt repaid, cover), per currency."""
        self.refused: dict[str, int] = defaultdict(int)
        """Purchases refused off the price list, by reason: they mint nothing."""
        self._kinds: dict[type, tuple[Callable, bool]] = {}
        """Per event class: its replay step, and whether it records a balance_after."""

    def _kind(self, event_class: type) -> tuple[Callable, bool]:
        for base, step in ((CoinsPurchased, self._purchased), (PromoCoinsCredited, self._promo),  # noqa: B007 - used after the loop
                           (PromoCoinsExpired, self._expired), (CoinsSpent, self._spent),
                           (SpendRejected, self._nothing), (CoinsClawedBack, self._claw_back),
                           (PurchaseRefused, self._refused),
                           (WalletFrozen, self._frozen), (WalletUnfrozen, self._unfrozen)):
            if issubclass(event_class, base):
                break
        else:
            step = self._nothing
        kind = self._kinds[event_class] = (step, "balance_after" in event_class.model_fields)
        return kind

    def apply(self, event: WalletEvent, at: Location) -> int:
        """Apply one wallet event; return its change of the coins outstanding."""
        wallet = self.wallets[event.user_id]
        step, records_balance = self._kinds.get(event.__class__) or self._kind(event.__class__)
        delta = step(wallet, event, at)
        recorded = event.balance_after if records_balance else None
        if recorded is not None:
            conservation = self.conservation
            previous = wallet.recorded if wallet.recorded is not None else 0
            if recorded == previous + delta:
                conservation.ok()
            else:
                conservation.fail(
                    f"{event.type} of {event.user_id}: balance_after {recorded} != previous "
                    f"balance_after {previous} {delta:+d}", at)
            balance = wallet.balance
            if recorded == balance:
                conservation.ok()
            else:
                conservation.fail(
                    f"{event.type} of {event.user_id}: balance_after {recorded} != {balance}"
                    f" replayed from the lots and debt", at)
            wallet.recorded = recorded
            if recorded < 0 <= previous:
                self.overspend.check(
                    isinstance(event, CoinsClawedBack),
                    f"{event.type} took {event.user_id} below zero ({recorded}); only a "
                    f"clawback may", at)
        elif delta:
            wallet.recorded = (wallet.recorded or 0) + delta
        return delta

    def _purchased(self, wallet: WalletState, event: CoinsPurchased, at: Location) -> int:
        lot = PurchaseLot(event.coins, event.amount_minor, event.currency)
        return self._credit(wallet, wallet.purchases, "purchase", event.purchase_id,
                            "issued:purchase", lot, event, at)

    def _promo(self, wallet: WalletState, event: PromoCoinsCredited, at: Location) -> int:
        return self._credit(wallet, wallet.promos, "promo grant", event.grant_id,
                            "issued:promo", PromoLot(event.coins), event, at)

    def _credit(self, wallet: WalletState, lots: dict, kind: str, lot_id: str, issuer: str,
                lot: PurchaseLot | PromoLot, event: CoinsPurchased | PromoCoinsCredited,
                at: Location) -> int:
        """A purchase or promo grant credited: a lot, debt repaid first, a double entry."""
        if lot_id in lots:
            self.conservation.fail(f"{kind} {lot_id} credited twice", at)
            return 0
        self.conservation.ok()
        self._repay(wallet, lot, event, at)
        wallet.add_lot(lots, lot_id, lot)
        wallet.credited += event.coins
        self.ledger.post(at, event.type, [
            ("coins", issuer, -event.coins),
            ("coins", "wallet", event.coins - event.debt_repaid),
            ("coins", "wallet:debt", event.debt_repaid)])
        return event.coins

    def _expired(self, wallet: WalletState, event: PromoCoinsExpired, at: Location) -> int:
        promo = wallet.promos.get(event.grant_id)
        remaining = promo.remaining if promo else 0
        if self.conservation.check(
                promo is not None and remaining == event.coins,
                f"expiry of {event.grant_id}: {event.coins} coins, the lot has "
                f"{remaining} left", at) and promo is not None:
            wallet.close(promo)
        wallet.expired += event.coins
        self.ledger.post(at, event.type, [("coins", "wallet", -remaining),
                                          ("coins", "expired", event.coins)])
        return -event.coins

    def _spent(self, wallet: WalletState, event: CoinsSpent, at: Location) -> int:
        overspend = self.overspend
        before = wallet.balance
        if event.balance_after >= 0 and before >= event.coins:
            overspend.ok()
        else:
            overspend.fail(
                f"spend of {event.coins} by {event.user_id} with balance {before} leaves "
                f"balance_after {event.balance_after}", at)
        if wallet.frozen is None:
            overspend.ok()
        else:
            overspend.fail(f"spend by {event.user_id} while frozen ({wallet.frozen})", at)
        used = self._use(wallet, event.lots, at, event.type)
        if used == event.coins:
            self.conservation.ok()
        else:
            self.conservation.fail(
                f"spend of {event.coins} coins takes {used} from its lots", at)
        wallet.spent += event.coins
        self.ledger.post(at, event.type, [("coins", "wallet", -used),
                                          ("coins", "spent", event.coins)])
        return -event.coins

    def _nothing(self, wallet: WalletState, event: WalletEvent, at: Location) -> int:
        return 0

    def _refused(self, wallet: WalletState, event: PurchaseRefused, at: Location) -> int:
        self.conservation.check(event.purchase_id not in wallet.purchases,
                                f"purchase {event.purchase_id} refused after it was credited",
                                at)
        self.refused[event.reason.value] += 1
        return 0

    def _frozen(self, wallet: WalletState, event: WalletFrozen, at: Location) -> int:
        wallet.frozen = event.reason
        return 0

    def _unfrozen(self, wallet: WalletState, event: WalletUnfrozen, at: Location) -> int:
        self.conservation.check(
            wallet.debt == 0 and wallet.frozen == FreezeReason.debt.value,
            f"{event.user_id} unfrozen with debt {wallet.debt}, frozen for "
            f"{wallet.frozen}", at)
        wallet.frozen = None
        return 0

    def _repay(self, wallet: WalletState, lot: PurchaseLot | PromoLot,
               event: CoinsPurchased | PromoCoinsCredited, at: Location) -> None:
        """Pay the wallet's debt off with the first coins of a new lot (not yet in the
        wallet, so its coins are not counted in `in_lots` yet)."""
        expected = min(wallet.debt, event.coins)
        if event.debt_repaid == expected:
            self.conservation.ok()
        else:
            self.conservation.fail(
                f"{event.type}: debt_repaid {event.debt_repaid}, the wallet owed {wallet.debt} "
                f"(expected {expected})", at)
        repaid = min(event.debt_repaid, event.coins, wallet.debt)
        lot.used = repaid
        wallet.debt -= repaid
        if isinstance(lot, PurchaseLot):
            self.consumed_value[lot.currency] += lot.value_of_first(repaid)

    def _use(self, wallet: WalletState, uses: tuple[LotUse, ...], at: Location,
             what: str) -> int:
        """Take the recorded uses out of their lots; return the coins taken."""
        conservation, money = self.conservation, self.money
        taken = 0
        for use in uses:
            lot = (wallet.purchases if use.kind is LotKind.purchase else wallet.promos
                   ).get(use.lot_id)
            if lot is None or not 0 < use.coins <= lot.remaining:
                conservation.fail(
                    f"{what} takes {use.coins} coins from lot {use.lot_id}, which has "
                    f"{lot.remaining if lot else 'no such lot'}", at)
                continue
            conservation.ok()
            if isinstance(lot, PurchaseLot):
                value = lot.value_of_first(lot.used + use.coins) - lot.value_of_first(lot.used)
                if use.value_minor == value and use.currency == lot.currency:
                    money.ok()
                else:
                    money.fail(
                        f"{what}: {use.coins} coins of lot {use.lot_id} valued "
                        f"{use.value_minor} {use.currency}, cumulative allocation gives "
                        f"{value} {lot.currency}", at)
                self.consumed_value[lot.currency] += value
            else:
                money.check(use.value_minor == 0,
                            f"{what}: promo coins valued {use.value_minor}", at)
            wallet.take(lot, use.coins)
            taken += use.coins
        return taken

    def _claw_back(self, wallet: WalletState, event: CoinsClawedBack, at: Location) -> int:
        lot = wallet.purchases.get(event.purchase_id)
        if not self.conservation.check(
                lot is not None and not lot.clawed,
                f"clawback of purchase {event.purchase_id}: "
                f"{'already clawed back' if lot else 'never credited'}", at):
            return -event.coins
        assert lot is not None
        self.conservation.check(
            (event.coins, event.coins_unspent) == (lot.coins, lot.remaining),
            f"clawback of {event.purchase_id}: coins {event.coins}/unspent "
            f"{event.coins_unspent}, the lot has {lot.coins}/{lot.remaining}", at)
        self.money.check(
            (event.amount_minor, event.currency) == (lot.amount_minor, lot.currency),
            f"clawback of {event.purchase_id} values {event.amount_minor} {event.currency}, "
            f"the lot cost {lot.amount_minor} {lot.currency}", at)
        unspent = lot.remaining
        wallet.close(lot)
        covered = self._use(wallet, event.covered_by, at, event.type)
        debt_added = lot.coins - unspent - covered
        self.conservation.check(
            debt_added >= 0, f"clawback of {event.purchase_id} covers more than was used", at)
        wallet.debt += max(0, debt_added)
        wallet.clawed += event.coins
        self.ledger.post(at, event.type, [
            ("coins", "wallet", -unspent - covered),
            ("coins", "wallet:debt", -max(0, debt_added)),
            ("coins", "clawed_back", event.coins)])
        return -event.coins

    def finish(self) -> dict:
        totals: dict = {"wallets": len(self.wallets), "credited": 0, "spent": 0,
                        "clawed_back": 0, "expired": 0, "balance": 0, "debt": 0, "in_debt": 0,
                        "purchases_refused": dict(sorted(self.refused.items()))}
        for user_id, wallet in self.wallets.items():
            flows = wallet.credited - wallet.spent - wallet.clawed - wallet.expired
            recorded = wallet.recorded or 0
            self.conservation.check(
                flows == recorded,
                f"wallet {user_id}: credited {wallet.credited} - spent {wallet.spent} - clawed "
                f"{wallet.clawed} - expired {wallet.expired} = {flows} != last balance_after "
                f"{recorded}")
            totals["credited"] += wallet.credited
            totals["spent"] += wallet.spent
            totals["clawed_back"] += wallet.clawed
            totals["expired"] += wallet.expired
            totals["balance"] += recorded
            totals["debt"] += wallet.debt
            totals["in_debt"] += wallet.debt > 0
        flows = (totals["credited"] - totals["spent"] - totals["clawed_back"]
                 - totals["expired"])
        self.conservation.check(
            flows == totals["balance"],
            f"in total: credited - spent - clawed - expired = {flows} != sum of balances "
            f"{totals['balance']}")
        return totals

    def coin_liability(self) -> dict[str, int]:
        """Cash value of the purchased coins still in wallets, per currency."""
        value: dict[str, int] = defaultdict(int)
        for wallet in self.wallets.values():
            for lot in wallet.purchases.values():
                value[lot.currency] += lot.remaining_value
        return dict(value)
