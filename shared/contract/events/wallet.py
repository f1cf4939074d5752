"""Published by the wallet service, the single writer of coin balances."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from shared.contract.envelope import Event
from shared.contract.events.users import LimitPeriod, LimitSetter
from shared.contract.types import (
    AmountMinor,
    Coins,
    Currency,
    Identifier,
    PositiveCoins,
    RateVersion,
    Timestamp,
)


class SpendRejection(StrEnum):
    """Why the wallet refused a debit. Values are part of the contract; never reuse one."""

    wallet_frozen = "wallet_frozen"
    not_age_verified = "not_age_verified"
    spending_limit_reached = "spending_limit_reached"
    insufficient_funds = "insufficient_funds"


class LotKind(StrEnum):
    purchase = "purchase"
    promo = "promo"


class LotUse(BaseModel):
    """Coins taken from one lot (a purchase or a promo grant) to fund a debit."""

    model_config = ConfigDict(frozen=True)
    lot_id: Identifier
    kind: LotKind
    coins: PositiveCoins
    value_minor: AmountMinor
    """The cash these coins were bought for, pro rata and rounded down; 0 for promo coins."""
    currency: Currency | None = None


class FundedGift(BaseModel):
    """A gift that a clawed-back purchase paid for, so payout can claw back its diamonds."""

    model_config = ConfigDict(frozen=True)
    request_id: Identifier
    creator_id: Identifier
    coins: PositiveCoins


class WalletEvent(Event):
    key_field = "user_id"
    producer: Identifier = "wallet"
    user_id: Identifier


class CoinsPurchased(WalletEvent):
    type: Literal["wallet.coins_purchased"] = "wallet.coins_purchased"
    schema_version: Literal[1] = 1
    purchase_id: Identifier
    coins: PositiveCoins
    amount_minor: AmountMinor
    currency: Currency
    rate_version: RateVersion
    balance_after: StrictInt
    debt_repaid: Coins = 0
    """Added without a version bump (optional): the first coins of this purchase that paid off
    the wallet's debt from an earlier clawback. They count as used coins of this lot (with their
    pro-rata cash value), so only `coins - debt_repaid` are left to spend."""


class PromoCoinsCredited(WalletEvent):
    type: Literal["wallet.promo_coins_credited"] = "wallet.promo_coins_credited"
    schema_version: Literal[1] = 1
    grant_id: Identifier
    coins: PositiveCoins
    expires_at: Timestamp
    balance_after: StrictInt
    campaign_id: Identifier | None = None
    """Added without a version bump (optional): the campaign that granted the coins."""
    debt_repaid: Coins = 0
    """Added without a version bump (optional): coins of this grant that paid off debt first,
    exactly as for CoinsPurchased."""


class PromoCoinsExpired(WalletEvent):
    type: Literal["wallet.promo_coins_expired"] = "wallet.promo_coins_expired"
    schema_version: Literal[1] = 1
    grant_id: Identifier
    coins: PositiveCoins
    balance_after: StrictInt


class CoinsSpent(WalletEvent):
    type: Literal["wallet.coins_spent"] = "wallet.coins_spent"
    schema_version: Literal[1] = 1
    request_id: Identifier
    creator_id: Identifier
    stream_id: Identifier
    gift_id: Identifier
    coins: PositiveCoins
    lots: tuple[LotUse, ...] = Field(min_length=1)
    balance_after: StrictInt
    spending_policy_version: RateVersion | None = None
    """Added without a version bump (optional): the `rate_version` of the SpendingPolicySet
    whose caps were checked; None when no policy had been published."""


class SpendRejected(WalletEvent):
    type: Literal["wallet.spend_rejected"] = "wallet.spend_rejected"
    schema_version: Literal[1] = 1
    request_id: Identifier
    creator_id: Identifier
    stream_id: Identifier
    coins: PositiveCoins
    reason: SpendRejection
    spending_policy_version: RateVersion | None = None
    """Added without a version bump (optional): as on CoinsSpent."""
    limit_period: LimitPeriod | None = None
    """Added without a version bump (optional): which window was full, when the reason is
    spending_limit_reached."""
    balance_after: StrictInt | None = None
    """Added without a version bump (optional): the (unchanged) balance, to explain a refusal."""


class ClawbackKind(StrEnum):
    refund = "refund"
    chargeback = "chargeback"


class CoinsClawedBack(WalletEvent):
    """A purchase was taken back. `coins` is the whole purchase; the part already spent drives
    the balance below zero and is traced to the gifts it funded."""

    type: Literal["wallet.coins_clawed_back"] = "wallet.coins_clawed_back"
    schema_version: Literal[1] = 1
    purchase_id: Identifier
    kind: ClawbackKind
    coins: Coins
    coins_unspent: Coins
    amount_minor: AmountMinor
    currency: Currency
    funded_gifts: tuple[FundedGift, ...] = ()
    balance_after: StrictInt
    frozen: StrictBool
    covered_by: tuple[LotUse, ...] = ()
    """Added without a version bump (optional): coins taken from the wallet's other lots to
    cover the spent part. Whatever they do not cover became debt:
    debt added = coins - coins_unspent - sum(covered_by coins). Events written before this field
    existed covered nothing, which this default reads correctly."""


class FreezeReason(StrEnum):
    """The values the wallet writes in WalletFrozen.reason. Never reuse one.

    A `debt` freeze lifts by itself once purchases or grants have paid the debt off; a
    `chargeback` freeze stays (a fraud signal for people, not code, to clear)."""

    debt = "debt"
    chargeback = "chargeback"


class UnfreezeReason(StrEnum):
    """The values the wallet writes in WalletUnfrozen.reason. Never reuse one."""

    debt_repaid = "debt_repaid"


class WalletFrozen(WalletEvent):
    """The wallet can spend nothing until a WalletUnfrozen. Emitted again with a stronger
    reason when a chargeback hits a wallet frozen for debt, so the freeze no longer lifts."""

    type: Literal["wallet.wallet_frozen"] = "wallet.wallet_frozen"
    schema_version: Literal[1] = 1
    reason: str
    """A FreezeReason value."""


class WalletUnfrozen(WalletEvent):
    type: Literal["wallet.wallet_unfrozen"] = "wallet.wallet_unfrozen"
    schema_version: Literal[1] = 1
    reason: str
    """An UnfreezeReason value."""


class AgeVerificationRecorded(WalletEvent):
    """The wallet took note of users.age_verified, so a replay of the wallet's own events
    knows whether the user could spend. Recorded only when the answer changes."""

    type: Literal["wallet.age_verification_recorded"] = "wallet.age_verification_recorded"
    schema_version: Literal[1] = 1
    adult: StrictBool


class SpendingLimitRecorded(WalletEvent):
    """The wallet took note of users.spending_limit_set (`coins` None removes the limit).
    Recorded only when the limit changes."""

    type: Literal["wallet.spending_limit_recorded"] = "wallet.spending_limit_recorded"
    schema_version: Literal[1] = 1
    period: LimitPeriod
    set_by: LimitSetter
    coins: Coins | None
