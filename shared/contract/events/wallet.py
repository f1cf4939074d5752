"""Published by the wallet service, the single writer of coin balances."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import StrictInt, StrictBool, AwareDatetime, BaseModel, ConfigDict, Field

from shared.contract.envelope import Event
from shared.contract.types import (
    AmountMinor,
    Coins,
    Currency,
    Identifier,
    PositiveCoins,
    RateVersion,
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


class PromoCoinsCredited(WalletEvent):
    type: Literal["wallet.promo_coins_credited"] = "wallet.promo_coins_credited"
    schema_version: Literal[1] = 1
    grant_id: Identifier
    coins: PositiveCoins
    expires_at: AwareDatetime
    balance_after: StrictInt


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


class SpendRejected(WalletEvent):
    type: Literal["wallet.spend_rejected"] = "wallet.spend_rejected"
    schema_version: Literal[1] = 1
    request_id: Identifier
    creator_id: Identifier
    stream_id: Identifier
    coins: PositiveCoins
    reason: SpendRejection


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


class WalletFrozen(WalletEvent):
    type: Literal["wallet.wallet_frozen"] = "wallet.wallet_frozen"
    schema_version: Literal[1] = 1
    reason: str
