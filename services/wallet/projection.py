"""The wallet's read model, written once: its tables, the row of each wallet and policy, and the
fold of wallet.ledger that rebuilds them. The live store writes these rows after each batch;
a rebuild writes the same rows from the log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.wallet.domain import (
    SpendingPolicy,
    Wallet,
    WalletDraft,
    balance,
    coins_by_source,
    effective_limit,
    evolve,
)
from shared.consistency import InconsistentHistory
from shared.contract.events.policy import SpendingPolicySet
from shared.contract.events.users import LimitPeriod
from shared.contract.events.wallet import CoinsSpent, SpendRejected
from shared.contract.topics import POLICY_CHANGES, WALLET_LEDGER
from shared.logread import LogRecord
from shared.projection import EntityKind, Projection
from shared.readmodel import ReadTable, Rows, TableChange
from shared.runtime.aggregates import SnapshotTable
from shared.runtime.history import EVENT_HISTORY

wallets = SnapshotTable("wallets", Wallet)

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


WALLET = EntityKind("wallet", WALLET_LEDGER, Wallet, evolve, _same, _same, wallets.dump,
                    wallets.load_json, describe)

SPEND_DECISIONS = (CoinsSpent, SpendRejected)


class WalletProjection(Projection):
    """wallet.ledger folded with evolve, plus policy.changes for `spending_policy`.

    `wallet_balances.daily/monthly_limit_coins` use the spending policy the live handler had
    when it saved the wallet: if the wallet's last event is a spend decision, the policy whose
    rate_version it records; otherwise the latest SpendingPolicySet appended to the log before
    the wallet's last ledger record (append time). That is the live value except when a policy
    change raced the wallet's last decision within one consumer batch (the live handler uses the
    end-of-batch policy)."""

    service = "wallet"
    topics = (WALLET_LEDGER, POLICY_CHANGES)
    tables = (wallets.read_table, WALLET_BALANCES, SPENDING_POLICY, EVENT_HISTORY)
    ledgers = (WALLET_LEDGER,)
    shared_tables = ("spending_policy",)

    def __init__(self) -> None:
        super().__init__()
        self.wallets: dict[str, WalletDraft] = {}
        self.last: dict[str, tuple[datetime, int, str | None, bool]] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.policies: list[tuple[int, SpendingPolicy]] = []
        self._changed: set[str] | None = None
        self._policy_changed = False

    def track_changes(self) -> None:
        self.take_history()
        self._changed, self._policy_changed = set(), False

    def _apply(self, record: LogRecord, event: Any) -> None:
        if record.topic == POLICY_CHANGES.name:
            if isinstance(event, SpendingPolicySet):
                self.policies.append((record.timestamp_ms, SpendingPolicy.from_event(event)))
                self._policy_changed = True
            return
        user = event.user_id
        if self._changed is not None:
            self._changed.add(user)
        if user in self.stats.broken:
            return
        wallet = self.wallets.get(user)
        if wallet is None:
            wallet = self.wallets[user] = WalletDraft.of(Wallet(user))
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
        return {**self._wallet_rows(self.wallets),
                "spending_policy": self._policy_rows(),
                "event_history": self._history_rows()}

    def changes(self) -> dict[str, TableChange] | None:
        if self._changed is None:
            raise RuntimeError("changes() without track_changes()")
        if self._policy_changed:
            # The limits shown with every balance follow the policy.
            return None
        tables = self._wallet_rows(self._changed)
        keys = [(user,) for user in sorted(self._changed)]
        return {"wallets": TableChange(tables["wallets"], ("key",), keys),
                "wallet_balances": TableChange(tables["wallet_balances"], ("user_id",), keys),
                "event_history": TableChange(self._history_rows())}

    def _wallet_rows(self, users: Iterable[str]) -> dict[str, Rows]:
        broken = self.stats.broken
        frozen = {u: self.wallets[u].freeze() for u in users
                  if u in self.wallets and u not in broken}
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
