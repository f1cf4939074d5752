"""Why a viewer's wallet holds what it holds: its own wallet.* events, oldest first, each with
what it did to the balance, the lots and cash values behind it, and the running balance.

Pure: events in, lines out. The events are folded by the wallet's own domain
(services/wallet/domain/evolve.py, as the service and its rebuilds fold them), so each line's
effect on the balance and on the debt is the domain's: a purchase or promo grant +coins (the
part that repaid debt too: balance = spendable coins - debt), a spend or expiry -coins, a
clawback -coins (the whole purchase), anything else 0.

Every event that records `balance_after` is checked against the running balance. An event the
domain refuses (a history the wallet could not have written) changes nothing and is reported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.wallet.domain.evolve import WalletDraft
from services.wallet.domain.state import Wallet, balance
from shared.consistency import InconsistentHistory
from shared.contract.events.wallet import (
    AgeVerificationRecorded,
    CoinsClawedBack,
    CoinsPurchased,
    CoinsSpent,
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


@dataclass(frozen=True)
class Lot:
    """Coins taken from one lot, and what they were bought for."""

    lot_id: str
    kind: str
    coins: int
    value_minor: int
    currency: str | None

    @classmethod
    def of(cls, use: LotUse) -> Lot:
        return cls(use.lot_id, str(use.kind), use.coins, use.value_minor, use.currency)


@dataclass(frozen=True)
class ViewerLine:
    seq: int
    occurred_at: datetime
    type: str
    """The event type without the `wallet.` prefix."""
    event_id: str
    reference: str | None
    """purchase_id, grant_id or gift request_id."""
    delta: int
    """Coins this event added to (or took from) the balance."""
    balance: int
    """The running balance after this event."""
    recorded_balance: int | None
    """The event's own balance_after, when it has one."""
    coins: int | None = None
    amount_minor: int | None = None
    """Purchase: paid; clawback: taken back."""
    currency: str | None = None
    rate_version: str | None = None
    """Purchase: the pack price list; spend: the spending policy whose caps were checked."""
    creator_id: str | None = None
    gift_id: str | None = None
    stream_id: str | None = None
    lots: tuple[Lot, ...] = ()
    """Spend: the lots that funded it; clawback: the other lots that covered its spent part."""
    value_minor: dict[str, int] = field(default_factory=dict)
    """Spend: the cash value of the coins spent, per currency (promo coins are worth 0)."""
    funded_gifts: tuple[dict, ...] = ()
    debt_repaid: int = 0
    debt_added: int = 0
    note: str = ""

    @property
    def consistent(self) -> bool:
        return self.recorded_balance is None or self.recorded_balance == self.balance


@dataclass(frozen=True)
class ViewerExplanation:
    user_id: str
    lines: tuple[ViewerLine, ...]
    balance: int
    """The balance the events add up to."""
    stored_balance: int | None
    """wallet_balances.balance, None when the wallet has no row."""
    replay_error: str | None = None
    """The first event the wallet domain refused, and why."""

    @property
    def problems(self) -> list[str]:
        found = []
        if self.replay_error:
            found.append(f"the wallet domain refuses this history: {self.replay_error}")
        found += [f"seq {line.seq} ({line.type}) records balance {line.recorded_balance}, "
                  f"the events before it add up to {line.balance}"
                  for line in self.lines if not line.consistent]
        if self.stored_balance is None:
            if self.lines:
                found.append(f"wallet_balances has no row for {self.user_id}")
        elif self.stored_balance != self.balance:
            found.append(f"MISMATCH: the events add up to {self.balance} coins, "
                         f"wallet_balances.balance is {self.stored_balance}")
        return found


def _short(event_type: str) -> str:
    return event_type.split(".", 1)[-1]


def _values(lots: Iterable[Lot]) -> dict[str, int]:
    values: dict[str, int] = defaultdict(int)
    for lot in lots:
        if lot.currency is not None:
            values[lot.currency] += lot.value_minor
    return dict(values)


def explain_viewer(user_id: str, events: Sequence[tuple[int, WalletEvent]],
                   stored_balance: int | None = None) -> ViewerExplanation:
    """`events` are (seq, event) of one user's wallet.* events in log order."""
    wallet = WalletDraft.of(Wallet(user_id))
    lines: list[ViewerLine] = []
    applied: list[WalletEvent] = []
    refused = None
    for seq, event in events:
        before, debt_before = wallet.running_balance, wallet.debt
        try:
            wallet.apply_unchecked(event)
            applied.append(event)
        except (InconsistentHistory, TypeError) as error:
            refused = refused or f"seq {seq} ({event.type}): {error}"
            # The draft may hold part of the refused event (a spend's first lots): the wallet
            # is the events before it.
            wallet = _replayed(user_id, applied)
        lines.append(_line(seq, event, before, wallet.running_balance,
                           wallet.debt - debt_before))
    return ViewerExplanation(user_id, tuple(lines), balance(wallet), stored_balance, refused)


def _replayed(user_id: str, events: Sequence[WalletEvent]) -> WalletDraft:
    wallet = WalletDraft.of(Wallet(user_id))
    for event in events:
        wallet.apply_unchecked(event)
    return wallet


def _refusal_note(event: PurchaseRefused) -> str:
    listed = (f", listed {event.listed_coins} coins for {event.listed_amount_minor} "
              f"{event.listed_currency}" if event.listed_coins is not None else "")
    return (f"purchase refused, nothing credited: {event.reason} ({event.package_id} on "
            f"{event.platform} in {event.region}{listed})")


def _line(seq: int, event: WalletEvent, before: int, after: int,  # noqa: C901, PLR0911, PLR0912 - one case per event type
          debt_added: int) -> ViewerLine:
    """The line of one event, which took the domain's balance from `before` to `after` and
    its debt up by `debt_added`."""
    base = {"seq": seq, "occurred_at": event.occurred_at, "type": _short(event.type),
            "event_id": str(event.event_id),
            "recorded_balance": getattr(event, "balance_after", None)}

    def line(**fields: object) -> ViewerLine:
        return ViewerLine(**base, delta=after - before, balance=after, **fields)

    match event:
        case CoinsPurchased():
            note = f"repaid {event.debt_repaid} coins of debt" if event.debt_repaid else ""
            return line(reference=event.purchase_id, coins=event.coins,
                        amount_minor=event.amount_minor, currency=event.currency,
                        rate_version=event.rate_version, debt_repaid=event.debt_repaid,
                        note=note)
        case PromoCoinsCredited():
            note = f"expires {event.expires_at.isoformat()}"
            if event.campaign_id:
                note += f", campaign {event.campaign_id}"
            if event.debt_repaid:
                note += f", repaid {event.debt_repaid} coins of debt"
            return line(reference=event.grant_id, coins=event.coins,
                        debt_repaid=event.debt_repaid, note=note)
        case PromoCoinsExpired():
            return line(reference=event.grant_id, coins=event.coins,
                        note="unused promo coins expired")
        case CoinsSpent():
            lots = tuple(Lot.of(use) for use in event.lots)
            return line(reference=event.request_id, coins=event.coins,
                        rate_version=event.spending_policy_version,
                        creator_id=event.creator_id, gift_id=event.gift_id,
                        stream_id=event.stream_id, lots=lots, value_minor=_values(lots))
        case CoinsClawedBack():
            covered = tuple(Lot.of(use) for use in event.covered_by)
            note = (f"{event.kind}: {event.coins_unspent} unspent coins removed, "
                    f"{sum(lot.coins for lot in covered)} covered by other lots, "
                    f"{debt_added} became debt" + (", wallet frozen" if event.frozen else ""))
            return line(reference=event.purchase_id, coins=event.coins,
                        amount_minor=event.amount_minor, currency=event.currency,
                        lots=covered, value_minor=_values(covered),
                        funded_gifts=tuple(gift.model_dump() for gift in event.funded_gifts),
                        debt_added=debt_added, note=note)
        case SpendRejected():
            return line(reference=event.request_id, coins=event.coins,
                        rate_version=event.spending_policy_version,
                        creator_id=event.creator_id, stream_id=event.stream_id,
                        note=f"refused: {event.reason}"
                        + (f" ({event.limit_period})" if event.limit_period else ""))
        case PurchaseRefused():
            return line(reference=event.purchase_id, coins=event.coins,
                        amount_minor=event.amount_minor, currency=event.currency,
                        rate_version=event.rate_version, note=_refusal_note(event))
        case WalletFrozen():
            return line(reference=None, note=f"frozen: {event.reason}")
        case WalletUnfrozen():
            return line(reference=None, note=f"unfrozen: {event.reason}")
        case AgeVerificationRecorded():
            return line(reference=None, note=f"adult: {event.adult}")
        case SpendingLimitRecorded():
            return line(reference=None,
                        note=f"{event.period} limit by {event.set_by}: {event.coins}")
    return line(reference=None, note="(no balance effect)")


# ---- the viewer's statement over a period ---------------------------------------------------

MONEY_TYPES = frozenset({"coins_purchased", "promo_coins_credited", "promo_coins_expired",
                         "coins_spent", "coins_clawed_back", "wallet_frozen",
                         "wallet_unfrozen"})


@dataclass(frozen=True)
class GiftTotal:
    creator_id: str
    gift_id: str
    gifts: int
    coins: int
    value_minor: dict[str, int]


@dataclass(frozen=True)
class ViewerStatement:
    user_id: str
    period_start: datetime
    period_end: datetime
    lines: tuple[ViewerLine, ...]
    """The period's purchases, promo grants and expiries, spends, clawbacks and freezes."""
    opening_balance: int
    closing_balance: int
    purchased_coins: int
    paid_minor: dict[str, int]
    promo_coins: int
    promo_expired_coins: int
    spent_coins: int
    spent_value_minor: dict[str, int]
    clawed_back_coins: int
    clawed_back_minor: dict[str, int]
    by_gift: tuple[GiftTotal, ...]
    """Spends per (creator, gift), most coins first."""

    @property
    def net_coins(self) -> int:
        return (self.purchased_coins + self.promo_coins - self.promo_expired_coins
                - self.spent_coins - self.clawed_back_coins)

    @property
    def reconciles(self) -> bool:
        return self.opening_balance + self.net_coins == self.closing_balance


def viewer_statement(explanation: ViewerExplanation, period_start: datetime,  # noqa: C901 - one pass, every sum
                     period_end: datetime) -> ViewerStatement:
    """The period is half-open, [period_start, period_end), by occurred_at, as for the
    creator's statement: the opening balance is the running balance before the first event of
    the period, the closing balance after every event before period_end."""
    assert period_start <= period_end, (period_start, period_end)
    opening: int | None = None
    closing = 0
    lines: list[ViewerLine] = []
    sums: dict[str, int] = defaultdict(int)
    paid: dict[str, int] = defaultdict(int)
    spent_value: dict[str, int] = defaultdict(int)
    clawed_minor: dict[str, int] = defaultdict(int)
    gifts: dict[tuple[str, str], list] = {}
    for line in explanation.lines:
        if line.occurred_at >= period_end:
            continue
        if line.occurred_at >= period_start:
            if opening is None:
                opening = line.balance - line.delta
            if line.type in MONEY_TYPES:
                lines.append(line)
            sums[line.type] += line.coins or 0
            if line.type == "coins_purchased":
                paid[line.currency or ""] += line.amount_minor or 0
            elif line.type == "coins_spent":
                for currency, value in line.value_minor.items():
                    spent_value[currency] += value
                entry = gifts.setdefault((line.creator_id or "", line.gift_id or ""),
                                         [0, 0, defaultdict(int)])
                entry[0] += 1
                entry[1] += line.coins or 0
                for currency, value in line.value_minor.items():
                    entry[2][currency] += value
            elif line.type == "coins_clawed_back":
                clawed_minor[line.currency or ""] += line.amount_minor or 0
        closing = line.balance
    by_gift = sorted((GiftTotal(creator, gift, n, coins, dict(values))
                      for (creator, gift), (n, coins, values) in gifts.items()),
                     key=lambda total: (-total.coins, total.creator_id, total.gift_id))
    return ViewerStatement(
        user_id=explanation.user_id, period_start=period_start, period_end=period_end,
        lines=tuple(lines), opening_balance=closing if opening is None else opening,
        closing_balance=closing, purchased_coins=sums["coins_purchased"],
        paid_minor=dict(paid), promo_coins=sums["promo_coins_credited"],
        promo_expired_coins=sums["promo_coins_expired"], spent_coins=sums["coins_spent"],
        spent_value_minor=dict(spent_value), clawed_back_coins=sums["coins_clawed_back"],
        clawed_back_minor=dict(clawed_minor), by_gift=tuple(by_gift))
