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

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)
    lot_id: Identifier
    """The lot: the purchase_id or grant_id that credited it."""
    kind: LotKind
    """A purchase or a promo grant."""
    coins: PositiveCoins
    """Coins taken from the lot."""
    value_minor: AmountMinor
    """The cash these coins were bought for, pro rata and rounded down; 0 for promo coins."""
    currency: Currency | None = None
    """ISO 4217 currency of `value_minor`, or null for promo coins."""


class FundedGift(BaseModel):
    """A gift that a clawed-back purchase paid for, so payout can claw back its diamonds."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)
    request_id: Identifier
    """The gift request the coins paid for."""
    creator_id: Identifier
    """The creator who received the gift."""
    coins: PositiveCoins
    """Coins of the clawed-back purchase that the gift spent."""


class WalletEvent(Event):
    key_field = "user_id"
    producer: Identifier = "wallet"
    user_id: Identifier
    """The wallet's owner."""


class CoinsPurchased(WalletEvent):
    type: Literal["wallet.coins_purchased"] = "wallet.coins_purchased"
    schema_version: Literal[1] = 1
    purchase_id: Identifier
    """The purchase credited; also the lot's id."""
    coins: PositiveCoins
    """Coins credited."""
    amount_minor: AmountMinor
    """The price paid, in minor units of `currency`."""
    currency: Currency
    """ISO 4217 currency of the payment."""
    rate_version: RateVersion
    """The coin package price version of the purchase."""
    balance_after: StrictInt
    """The wallet's coin balance after this event; negative while in debt."""
    debt_repaid: Coins = 0
    """Added without a version bump (optional): the first coins of this purchase that paid off
    the wallet's debt from an earlier clawback. They count as used coins of this lot (with their
    pro-rata cash value), so only `coins - debt_repaid` are left to spend."""


class PromoCoinsCredited(WalletEvent):
    type: Literal["wallet.promo_coins_credited"] = "wallet.promo_coins_credited"
    schema_version: Literal[1] = 1
    grant_id: Identifier
    """The promo grant credited; also the lot's id."""
    coins: PositiveCoins
    """Promotional coins credited."""
    expires_at: Timestamp
    """When the coins left unspent expire."""
    balance_after: StrictInt
    """The wallet's coin balance after this event; negative while in debt."""
    campaign_id: Identifier | None = None
    """Added without a version bump (optional): the campaign that granted the coins."""
    debt_repaid: Coins = 0
    """Added without a version bump (optional): coins of this grant that paid off debt first,
    exactly as for CoinsPurchased."""


class PromoCoinsExpired(WalletEvent):
    type: Literal["wallet.promo_coins_expired"] = "wallet.promo_coins_expired"
    schema_version: Literal[1] = 1
    grant_id: Identifier
    """The promo grant whose coins expired."""
    coins: PositiveCoins
    """Coins of the grant left unspent, removed."""
    balance_after: StrictInt
    """The wallet's coin balance after this event; negative while in debt."""


class CoinsSpent(WalletEvent):
    type: Literal["wallet.coins_spent"] = "wallet.coins_spent"
    schema_version: Literal[1] = 1
    request_id: Identifier
    """The priced gift order debited."""
    creator_id: Identifier
    """The creator who receives the gift."""
    stream_id: Identifier
    """The stream the gift was sent in."""
    gift_id: Identifier
    """The catalog's id of the gift."""
    coins: PositiveCoins
    """Coins debited."""
    lots: tuple[LotUse, ...] = Field(min_length=1)
    """The lots that funded the debit, in the order they were used."""
    balance_after: StrictInt
    """The wallet's coin balance after this event."""
    spending_policy_version: RateVersion | None = None
    """Added without a version bump (optional): the `rate_version` of the SpendingPolicySet
    whose caps were checked; None when no policy had been published."""


class SpendRejected(WalletEvent):
    type: Literal["wallet.spend_rejected"] = "wallet.spend_rejected"
    schema_version: Literal[1] = 1
    request_id: Identifier
    """The priced gift order refused."""
    creator_id: Identifier
    """The creator the gift was for."""
    stream_id: Identifier
    """The stream the gift was to be sent in."""
    coins: PositiveCoins
    """Coins the order would have debited."""
    reason: SpendRejection
    """Why the wallet refused the debit."""
    spending_policy_version: RateVersion | None = None
    """Added without a version bump (optional): as on CoinsSpent."""
    limit_period: LimitPeriod | None = None
    """Added without a version bump (optional): which window was full, when the reason is
    spending_limit_reached."""
    balance_after: StrictInt | None = None
    """Added without a version bump (optional): the (unchanged) balance, to explain a refusal."""


class PurchaseRefusal(StrEnum):
    """Why the wallet refused to credit a purchase: it does not match the coin package price
    list (policy.coin_package_priced) for its platform and region. Values are part of the
    contract; never reuse one. Checked in this order, the first that applies is the reason."""

    unknown_rate_version = "unknown_rate_version"
    """No package is priced under the purchase's rate_version."""
    unknown_package = "unknown_package"
    """The rate_version prices no such package on the purchase's platform and region."""
    coins_mismatch = "coins_mismatch"
    """The package holds another number of coins under that rate_version."""
    price_mismatch = "price_mismatch"
    """The package costs another amount, or is priced in another currency."""


class PurchaseRefused(WalletEvent):
    """A purchase that does not match the price list: nothing is credited. The purchase's
    figures are recorded as they came, with the price list's figures when the package is
    priced, so the refusal explains itself on the ledger alone."""

    type: Literal["wallet.purchase_refused"] = "wallet.purchase_refused"
    schema_version: Literal[1] = 1
    purchase_id: Identifier
    """The purchase refused."""
    reason: PurchaseRefusal
    """Why it does not match the price list."""
    coins: PositiveCoins
    """Coins the purchase claimed."""
    amount_minor: AmountMinor
    """The price the purchase says was paid, in minor units of `currency`."""
    currency: Currency
    """ISO 4217 currency of the payment."""
    platform: Identifier
    """Where the purchase was made."""
    region: Identifier
    """The buyer's pricing region."""
    package_id: Identifier
    """The coin package the purchase names."""
    rate_version: RateVersion
    """The price list version the purchase names."""
    listed_coins: Coins | None = None
    """Coins of the package under that rate_version, or null when it is not priced."""
    listed_amount_minor: AmountMinor | None = None
    """The package's listed price, in minor units of `listed_currency`, or null."""
    listed_currency: Currency | None = None
    """ISO 4217 currency of the listed price, or null."""
    balance_after: StrictInt
    """The wallet's coin balance, unchanged by the refusal."""


class ClawbackKind(StrEnum):
    refund = "refund"
    chargeback = "chargeback"


class CoinsClawedBack(WalletEvent):
    """A purchase was taken back. `coins` is the whole purchase; the part already spent drives
    the balance below zero and is traced to the gifts it funded."""

    type: Literal["wallet.coins_clawed_back"] = "wallet.coins_clawed_back"
    schema_version: Literal[1] = 1
    purchase_id: Identifier
    """The purchase taken back."""
    kind: ClawbackKind
    """A refund or a chargeback."""
    coins: Coins
    """Coins of the purchase, all of them."""
    coins_unspent: Coins
    """Coins of the purchase not yet spent, removed from its lot."""
    amount_minor: AmountMinor
    """The money taken back, in minor units of `currency`."""
    currency: Currency
    """ISO 4217 currency of the money."""
    funded_gifts: tuple[FundedGift, ...] = ()
    """The gifts that the purchase's spent coins paid for."""
    balance_after: StrictInt
    """The wallet's coin balance after this event; negative while in debt."""
    frozen: StrictBool
    """Whether the wallet is frozen after this event."""
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
    """Whether the user is verified to be 18 or older."""


class SpendingLimitRecorded(WalletEvent):
    """The wallet took note of users.spending_limit_set (`coins` None removes the limit).
    Recorded only when the limit changes."""

    type: Literal["wallet.spending_limit_recorded"] = "wallet.spending_limit_recorded"
    schema_version: Literal[1] = 1
    period: LimitPeriod
    """The period the cap applies to."""
    set_by: LimitSetter
    """Who set the cap: the user or a policy."""
    coins: Coins | None
    """Coins that may be spent per period, or null when no cap applies."""
