"""The wallet's read model, written once: its tables, the row of each wallet and policy, and the
fold of wallet.ledger that rebuilds them. The live store writes these rows after each batch;
a rebuild writes the same rows from the log.

A wallet's snapshot row (`wallets`) is the wallet `without_lookups`: its decided requests, its
lots without coins and its lots' funded gifts are rows of the tables of kept_apart.py, so the
row's size does not grow with the viewer's history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from services.wallet.domain import (
    DEFAULT_PRICES,
    PackagePrice,
    PriceList,
    SpendingPolicy,
    Wallet,
    WalletDraft,
    balance,
    coins_by_source,
    effective_limit,
    evolve,
    price_key,
    price_of,
    without_lookups,
)
from services.wallet.domain.prices import PriceKey
from services.wallet.kept_apart import (
    TABLES,
    ApartRows,
    changed_rows,
    funded_gift_rows,
    promo_lot_row,
    purchase_lot_row,
)
from shared.consistency import InconsistentHistory
from shared.contract.events.policy import CoinPackagePriced, SpendingPolicySet
from shared.contract.events.users import LimitPeriod
from shared.contract.events.wallet import (
    CoinsClawedBack,
    CoinsPurchased,
    CoinsSpent,
    LotKind,
    PromoCoinsCredited,
    PromoCoinsExpired,
    SpendRejected,
)
from shared.contract.topics import POLICY_CHANGES, WALLET_LEDGER
from shared.logread import LogRecord
from shared.projection import EntityKind, Projection
from shared.readmodel import ReadTable, Rows, TableChange
from shared.runtime.aggregates import SnapshotTable
from shared.runtime.history import EVENT_HISTORY

_WHOLE = TypeAdapter(Wallet)
"""A whole wallet as JSON: point-in-time checkpoints keep every part of it."""


def _snapshot_json(wallet: Wallet) -> bytes:
    return _WHOLE.dump_json(without_lookups(wallet))


wallets = SnapshotTable("wallets", Wallet, dump=_snapshot_json, load=_WHOLE.validate_json,
                        # A row saved with every request, lot and gift in it (before they
                        # had rows of their own) compares as the row it would be saved as now.
                        compared_as=without_lookups)

WALLET_BALANCES = ReadTable(
    "wallet_balances",
    (("user_id", "text"), ("balance", "bigint"), ("purchased_coins", "bigint"),
     ("promo_coins", "bigint"), ("debt", "bigint"), ("frozen", "boolean"),
     ("frozen_reason", "text"), ("updated_at", "timestamptz"), ("adult", "boolean"),
     ("daily_limit_coins", "bigint"), ("monthly_limit_coins", "bigint")),
    keys=("user_id",))
"""`updated_at` is log time (the occurred_at of the wallet's last deciding input), so it is
compared."""

SPENDING_POLICY = ReadTable(
    "spending_policy",
    (("singleton", "boolean"), ("rate_version", "text"), ("daily_coins", "bigint"),
     ("monthly_coins", "bigint")),
    keys=("singleton",))


COIN_PACKAGE_PRICES = ReadTable(
    "coin_package_prices",
    (("rate_version", "text"), ("package_id", "text"), ("platform", "text"),
     ("region", "text"), ("coins", "bigint"), ("amount_minor", "bigint"),
     ("currency", "text")),
    keys=("rate_version", "package_id", "platform", "region"))
"""The prices of policy.coin_package_priced the wallet accepted (domain/prices.py); the
built-in defaults have no rows."""


def price_row(key: PriceKey, price: PackagePrice) -> tuple:
    return (*key, price.coins, price.amount_minor, price.currency)


def price_of_row(row: Any) -> tuple[PriceKey, PackagePrice]:
    return ((row["rate_version"], row["package_id"], row["platform"], row["region"]),
            PackagePrice(row["coins"], row["amount_minor"], row["currency"]))


def adds_price(prices: PriceList, event: CoinPackagePriced) -> bool:
    """Whether `event` is a price of a key not priced yet, so a row of its own. A repeat of a
    known price (a default's or a stored one's) adds none; neither does a conflicting price,
    which the live handler dead-letters (domain/prices.price_conflict)."""
    return prices.price(price_key(event)) is None


def balance_row(user_id: str, wallet: Wallet, updated_at: datetime,
                policy: SpendingPolicy | None) -> tuple:
    """The wallet as `wallet_balances` shows it, with the limits of this spending policy."""
    purchased, promo = coins_by_source(wallet)
    return (user_id, balance(wallet), purchased, promo, wallet.debt, wallet.frozen,
            wallet.frozen_reason.value if wallet.frozen_reason else None, updated_at,
            wallet.adult, effective_limit(wallet, LimitPeriod.daily, policy),
            effective_limit(wallet, LimitPeriod.monthly, policy))


def policy_row(policy: SpendingPolicy) -> tuple:
    return (True, policy.rate_version, policy.daily_coins, policy.monthly_coins)


def describe(wallet: Wallet, at: datetime | None = None) -> dict:
    """A wallet's figures, as an answer about it at a point of its log."""
    purchased, promo = coins_by_source(wallet)
    return {"user_id": wallet.user_id, "balance": balance(wallet),
            "purchased_coins": purchased, "promo_coins": promo, "debt": wallet.debt,
            "frozen": wallet.frozen,
            "frozen_reason": wallet.frozen_reason.value if wallet.frozen_reason else None,
            "adult": wallet.adult}


def _same(wallet: Wallet) -> Wallet:
    return wallet


WALLET = EntityKind("wallet", WALLET_LEDGER, Wallet, evolve, _same, _same, _WHOLE.dump_json,
                    _WHOLE.validate_json, describe)

SPEND_DECISIONS = (CoinsSpent, SpendRejected)


class WalletProjection(Projection):
    """wallet.ledger folded with evolve, plus policy.changes for `spending_policy` and the
    price list (`coin_package_prices`, by the live handler's rule: the first price of a key
    stands, a conflicting one is refused).

    `wallet_balances.daily/monthly_limit_coins` use the spending policy the live handler had
    when it saved the wallet: if the wallet's last event is a spend decision, the policy whose
    rate_version it records; otherwise the latest SpendingPolicySet appended to the log before
    the wallet's last ledger record (append time). That is the live value except when a policy
    change raced the wallet's last decision within one consumer batch (the live handler uses the
    end-of-batch policy)."""

    service = "wallet"
    topics = (WALLET_LEDGER, POLICY_CHANGES)
    tables = (wallets.read_table, *TABLES, WALLET_BALANCES, SPENDING_POLICY,
              COIN_PACKAGE_PRICES, EVENT_HISTORY)
    ledgers = (WALLET_LEDGER,)
    shared_tables = ("spending_policy", "coin_package_prices")

    def __init__(self) -> None:
        super().__init__()
        self.wallets: dict[str, WalletDraft] = {}
        self.last: dict[str, tuple[datetime, int, str | None, bool]] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.policies: list[tuple[int, SpendingPolicy]] = []
        self.prices = DEFAULT_PRICES
        self.price_rows: list[tuple] = []
        self._changed: WalletChanges | None = None
        self._policy_changed = False

    def track_changes(self) -> None:
        self.take_history()
        self._changed = WalletChanges(broken=len(self.stats.broken))
        self._policy_changed = False

    def _apply(self, record: LogRecord, event: Any) -> None:
        if record.topic == POLICY_CHANGES.name:
            if isinstance(event, SpendingPolicySet):
                self.policies.append((record.timestamp_ms, SpendingPolicy.from_event(event)))
                self._policy_changed = True
            elif isinstance(event, CoinPackagePriced) and adds_price(self.prices, event):
                self.prices = self.prices.with_price(event)
                self.price_rows.append(price_row(price_key(event), price_of(event)))
                self._policy_changed = True
            return
        user = event.user_id
        if user in self.stats.broken:
            if self._changed is not None:
                self._changed.users.add(user)
            return
        wallet = self.wallets.get(user)
        if wallet is None:
            wallet = self.wallets[user] = WalletDraft.of(Wallet(user))
        if self._changed is not None:
            self._changed.note(wallet, event)
        try:
            wallet.apply(event)
        except InconsistentHistory as problem:
            self._break(user, f"{event.type} {event.event_id} at {record.partition}:"
                              f"{record.offset}: {problem}")
            return
        decision = isinstance(event, SPEND_DECISIONS)
        self.last[user] = (event.occurred_at, record.timestamp_ms,
                           event.spending_policy_version if decision else None, decision)
        self.counts[user] += 1
        self._record_history(record, event)

    def policy_for(self, user: str) -> SpendingPolicy | None:
        _, timestamp_ms, version, decision = self.last[user]
        if decision:
            if version is None:
                return None
            matching = [p for _, p in self.policies if p.rate_version == version]
            if matching:
                return matching[-1]
        before = [p for ts, p in self.policies if ts <= timestamp_ms]
        return before[-1] if before else None

    def rows(self) -> dict[str, Rows]:
        frozen = self._frozen(self.wallets)
        apart = changed_rows((user, wallet, None) for user, wallet in frozen.items())
        return {**self._wallet_rows(frozen),
                **{table.name: table.of(apart.by_table()[table.name]) for table in TABLES},
                "spending_policy": self._policy_rows(),
                "coin_package_prices": COIN_PACKAGE_PRICES.of(list(self.price_rows)),
                "event_history": self._history_rows()}

    def changes(self) -> dict[str, TableChange] | None:
        changed = self._changed
        if changed is None:
            raise RuntimeError("changes() without track_changes()")
        if self._policy_changed or len(self.stats.broken) != changed.broken:
            # The limits shown with every balance follow the policy; a wallet that stops
            # folding loses every row, not only the changed ones.
            return None
        frozen = self._frozen(changed.users)
        tables = self._wallet_rows(frozen)
        keys = [(user,) for user in sorted(changed.users)]
        # Rows apart change one by one (a request decided, a lot changed, a gift funded): a
        # wallet's other rows stay as they are, however many.
        apart = changed.rows(frozen)
        return {"wallets": TableChange(tables["wallets"], ("key",), keys),
                **{table.name: TableChange(table.of(rows), table.keys,
                                           [row[:len(table.keys)] for row in rows])
                   for table, rows in zip(TABLES, (apart.requests, apart.purchases,
                                                   apart.promos, apart.gifts), strict=True)},
                "wallet_balances": TableChange(tables["wallet_balances"], ("user_id",), keys),
                "event_history": TableChange(self._history_rows())}

    def _frozen(self, users: Iterable[str]) -> dict[str, Wallet]:
        broken = self.stats.broken
        return {u: self.wallets[u].freeze() for u in users
                if u in self.wallets and u not in broken}

    def _wallet_rows(self, frozen: dict[str, Wallet]) -> dict[str, Rows]:
        return {
            "wallets": wallets.read_table.of([
                wallets.row_of(user, wallet, self.counts[user])
                for user, wallet in frozen.items()]),
            "wallet_balances": WALLET_BALANCES.of([
                balance_row(user, wallet, self.last[user][0], self.policy_for(user))
                for user, wallet in frozen.items()]),
        }

    def _policy_rows(self) -> Rows:
        latest = [policy_row(self.policies[-1][1])] if self.policies else []
        return SPENDING_POLICY.of(latest)


@dataclass
class WalletChanges:
    """The keys of the wallet's rows that events changed since track_changes()."""

    broken: int
    """Wallets that did not fold before."""
    users: set[str] = field(default_factory=set)
    requests: set[tuple[str, str]] = field(default_factory=set)
    """(user_id, request_id) decided since."""
    purchases: dict[tuple[str, str], int] = field(default_factory=dict)
    """(user_id, purchase_id) of lots changed since -> the lot's funded gifts before."""
    promos: set[tuple[str, str]] = field(default_factory=set)
    """(user_id, grant_id) of promo lots changed since."""

    def note(self, wallet: WalletDraft, event: Any) -> None:
        """Before `event` is applied to `wallet`."""
        user = wallet.user_id
        self.users.add(user)
        if isinstance(event, SPEND_DECISIONS):
            self.requests.add((user, event.request_id))
        match event:
            case CoinsPurchased():
                self._purchase(wallet, event.purchase_id)
            case PromoCoinsCredited() | PromoCoinsExpired():
                self.promos.add((user, event.grant_id))
            case CoinsClawedBack():
                self._purchase(wallet, event.purchase_id)
                self._uses(wallet, event.covered_by)
            case CoinsSpent():
                self._uses(wallet, event.lots)

    def _uses(self, wallet: WalletDraft, uses: Iterable[Any]) -> None:
        for use in uses:
            if use.kind is LotKind.purchase:
                self._purchase(wallet, use.lot_id)
            else:
                self.promos.add((wallet.user_id, use.lot_id))

    def _purchase(self, wallet: WalletDraft, purchase_id: str) -> None:
        index = wallet.purchase_index.get(purchase_id)
        funded = 0 if index is None else wallet.purchases[index].gifts_funded
        self.purchases.setdefault((wallet.user_id, purchase_id), funded)

    def rows(self, frozen: dict[str, Wallet]) -> ApartRows:
        """The rows of these keys, in the wallets as they are now."""
        rows = ApartRows(requests=sorted(key for key in self.requests if key[0] in frozen))
        for (user, purchase_id), since in sorted(self.purchases.items()):
            lot = frozen[user].purchase(purchase_id) if user in frozen else None
            if lot is not None:
                rows.purchases.append(purchase_lot_row(user, lot))
                rows.gifts.extend(funded_gift_rows(user, lot, since))
        for user, grant_id in sorted(self.promos):
            promo = frozen[user].promo(grant_id) if user in frozen else None
            if promo is not None:
                rows.promos.append(promo_lot_row(user, promo))
        return rows
