"""The wallet's read model, written once: its tables, the row of each wallet and policy, and the
fold of wallet.ledger that rebuilds them. The live store writes these rows after each batch;
a rebuild writes the same rows from the log.

A wallet's snapshot row (`wallets`) is the wallet `without_lookups`: its decided request ids
are rows of `wallet_requests` and its lots' funded gifts rows of `lot_funded_gifts`, so the
row's size does not grow with the viewer's gifts. Both are written once, when decided.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from services.wallet.domain import (
    PurchaseLot,
    SpendingPolicy,
    Wallet,
    WalletDraft,
    balance,
    coins_by_source,
    effective_limit,
    evolve,
)
from services.wallet.domain.evolve import PurchaseDraft
from shared.consistency import InconsistentHistory
from shared.contract.events.policy import SpendingPolicySet
from shared.contract.events.users import LimitPeriod
from shared.contract.events.wallet import CoinsSpent, LotKind, SpendRejected
from shared.contract.topics import POLICY_CHANGES, WALLET_LEDGER
from shared.logread import LogRecord
from shared.projection import EntityKind, Projection
from shared.readmodel import ReadTable, Rows, TableChange
from shared.runtime.aggregates import SnapshotTable
from shared.runtime.history import EVENT_HISTORY

_WHOLE = TypeAdapter(Wallet)
"""A whole wallet as JSON: point-in-time checkpoints keep every part of it."""


def _snapshot_json(wallet: Wallet) -> bytes:
    return _WHOLE.dump_json(wallet.without_lookups())


wallets = SnapshotTable("wallets", Wallet, dump=_snapshot_json, load=_WHOLE.validate_json,
                        # A row saved with every request and gift in it (before they had
                        # rows of their own) compares as the row it would be saved as now.
                        compared_as=Wallet.without_lookups)

WALLET_REQUESTS = ReadTable(
    "wallet_requests", (("user_id", "text"), ("request_id", "text")),
    keys=("user_id", "request_id"))
"""Every gift request a wallet decided (spent or rejected): the once-per-request check."""

LOT_FUNDED_GIFTS = ReadTable(
    "lot_funded_gifts",
    (("user_id", "text"), ("purchase_id", "text"), ("request_id", "text"),
     ("creator_id", "text"), ("coins", "bigint"), ("position_in_lot", "bigint")),
    keys=("user_id", "purchase_id", "request_id"))
"""Every gift a purchase lot funded, with the coins from that lot: what its clawback lists, in
`position_in_lot` order. Kept when the lot is spent: a refund may come long after."""

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


def request_rows(user_id: str, request_ids: Iterable[str]) -> list[tuple]:
    return [(user_id, request_id) for request_id in sorted(request_ids)]


def funded_gift_rows(user_id: str, lot: PurchaseLot | PurchaseDraft, since: int = 0
                     ) -> list[tuple]:
    """The rows of the lot's funded gifts from position `since` on (those in `gifts`)."""
    first = lot.funded_apart
    return [(user_id, lot.purchase_id, gift.request_id, gift.creator_id, gift.coins, position)
            for position, gift in enumerate(lot.gifts[max(0, since - first):],
                                            max(first, since))]


def lookup_rows(user_id: str, wallet: Wallet, since: Wallet | None = None
                ) -> tuple[list[tuple], list[tuple]]:
    """The wallet's `wallet_requests` and `lot_funded_gifts` rows that `since` (the same
    wallet earlier; None: a new one) did not have."""
    requests = wallet.requests if since is None else wallet.requests - since.requests
    funded = {} if since is None else {lot.purchase_id: lot.gifts_funded
                                       for lot in since.purchases}
    return request_rows(user_id, requests), [
        row for lot in wallet.purchases
        for row in funded_gift_rows(user_id, lot, funded.get(lot.purchase_id, 0))]


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
    """wallet.ledger folded with evolve, plus policy.changes for `spending_policy`.

    `wallet_balances.daily/monthly_limit_coins` use the spending policy the live handler had
    when it saved the wallet: if the wallet's last event is a spend decision, the policy whose
    rate_version it records; otherwise the latest SpendingPolicySet appended to the log before
    the wallet's last ledger record (append time). That is the live value except when a policy
    change raced the wallet's last decision within one consumer batch (the live handler uses the
    end-of-batch policy)."""

    service = "wallet"
    topics = (WALLET_LEDGER, POLICY_CHANGES)
    tables = (wallets.read_table, WALLET_REQUESTS, LOT_FUNDED_GIFTS, WALLET_BALANCES,
              SPENDING_POLICY, EVENT_HISTORY)
    ledgers = (WALLET_LEDGER,)
    shared_tables = ("spending_policy",)

    def __init__(self) -> None:
        super().__init__()
        self.wallets: dict[str, WalletDraft] = {}
        self.last: dict[str, tuple[datetime, int, str | None, bool]] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.policies: list[tuple[int, SpendingPolicy]] = []
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
        requests: list[tuple] = []
        gifts: list[tuple] = []
        for user, wallet in frozen.items():
            request_rows_, gift_rows = lookup_rows(user, wallet)
            requests.extend(request_rows_)
            gifts.extend(gift_rows)
        return {**self._wallet_rows(frozen),
                "wallet_requests": WALLET_REQUESTS.of(requests),
                "lot_funded_gifts": LOT_FUNDED_GIFTS.of(gifts),
                "spending_policy": self._policy_rows(),
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
        # Requests and funded gifts are only ever added: a wallet's other rows stay as they
        # are, however many.
        requests = sorted(changed.requests)
        gifts = [row for (user, purchase_id), since in sorted(changed.lots.items())
                 for row in funded_gift_rows(user, self._lot(frozen[user], purchase_id), since)]
        return {"wallets": TableChange(tables["wallets"], ("key",), keys),
                "wallet_requests": TableChange(WALLET_REQUESTS.of(requests),
                                               WALLET_REQUESTS.keys, requests),
                "lot_funded_gifts": TableChange(LOT_FUNDED_GIFTS.of(gifts),
                                                LOT_FUNDED_GIFTS.keys,
                                                [row[:3] for row in gifts]),
                "wallet_balances": TableChange(tables["wallet_balances"], ("user_id",), keys),
                "event_history": TableChange(self._history_rows())}

    @staticmethod
    def _lot(wallet: Wallet, purchase_id: str) -> PurchaseLot:
        lot = wallet.purchase(purchase_id)
        assert lot is not None, (wallet.user_id, purchase_id)
        return lot

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
    lots: dict[tuple[str, str], int] = field(default_factory=dict)
    """(user_id, purchase_id) -> the lot's funded gifts before its first new one."""

    def note(self, wallet: WalletDraft, event: Any) -> None:
        """Before `event` is applied to `wallet`."""
        user = wallet.user_id
        self.users.add(user)
        if not isinstance(event, SPEND_DECISIONS):
            return
        self.requests.add((user, event.request_id))
        if isinstance(event, CoinsSpent):
            for use in event.lots:
                index = wallet.purchase_index.get(use.lot_id)
                if use.kind is LotKind.purchase and index is not None:
                    self.lots.setdefault((user, use.lot_id),
                                         wallet.purchases[index].gifts_funded)
