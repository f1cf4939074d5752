"""Published by the payout service, the single writer of diamond balances and payouts."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, StrictBool, StrictInt

from shared.contract.envelope import Event
from shared.contract.types import (
    AmountMinor,
    Coins,
    Currency,
    Diamonds,
    Identifier,
    PositiveCoins,
    Rate,
    RateVersion,
    Share,
    Timestamp,
)


class PayoutRejection(StrEnum):
    """Why a payout request was refused. Values are part of the contract; never reuse one."""

    creator_not_verified = "creator_not_verified"
    below_minimum = "below_minimum"
    daily_limit_exceeded = "daily_limit_exceeded"
    insufficient_diamonds = "insufficient_diamonds"
    no_cash_rate = "no_cash_rate"
    duplicate_payout = "duplicate_payout"
    no_payout_limits = "no_payout_limits"
    """No minimum and daily maximum are set for the currency: payouts fail closed."""


class PayoutEvent(Event):
    key_field = "creator_id"
    producer: Identifier = "payout"
    creator_id: Identifier
    """The creator whose diamonds or payout this is."""


class DiamondsEarned(PayoutEvent):
    type: Literal["payout.diamonds_earned"] = "payout.diamonds_earned"
    schema_version: Literal[1] = 1
    request_id: Identifier
    """The gift request that earned the diamonds."""
    sender_id: Identifier
    """The viewer who sent the gift."""
    coins: PositiveCoins
    """Coins the gift cost the sender."""
    diamonds: Diamonds
    """Diamonds earned: coins times diamonds_per_coin, rounded down."""
    diamonds_per_coin: Share
    """The creator share applied"""
    rate_version: RateVersion
    """The creator share version (policy.creator_share_set) applied."""
    available_at: Timestamp
    """When the held diamonds become available for payout."""
    applied_to_debt: Diamonds = 0
    """Added without a version bump (optional): the part of `diamonds` that paid the
    creator's debt from earlier clawbacks at once; only the rest is credited (held)."""
    hold_rate_version: RateVersion | None = None
    """Added without a version bump (optional): the hold policy that set `available_at`."""


class DiamondsClawedBack(PayoutEvent):
    """Diamonds of a gift whose funding was clawed back: taken from the held diamonds first,
    the rest from available ones, and what is left becomes a debt netted against earnings."""

    type: Literal["payout.diamonds_clawed_back"] = "payout.diamonds_clawed_back"
    schema_version: Literal[1] = 1
    request_id: Identifier
    """The gift whose diamonds are clawed back."""
    purchase_id: Identifier
    """The clawed-back purchase that funded the gift."""
    diamonds: Diamonds
    """Diamonds taken back in total: from_held + from_available + to_debt."""
    from_held: Diamonds
    """Diamonds taken from the held (not yet available) balance."""
    from_available: Diamonds
    """Diamonds taken from the available balance."""
    to_debt: Diamonds
    """Diamonds that became the creator's debt."""
    coins: Coins = 0
    """Added without a version bump (optional): the gift's coins the clawed purchase had
    funded, which set `diamonds` pro rata (0 on events written before it existed)."""


class PayoutReserved(PayoutEvent):
    type: Literal["payout.payout_reserved"] = "payout.payout_reserved"
    schema_version: Literal[1] = 1
    payout_id: Identifier
    """The payout requested."""
    diamonds: StrictInt = Field(gt=0)
    """Diamonds reserved for the payout."""
    gross_minor: AmountMinor
    """Cash value of the diamonds before the fee, in minor units of `currency`."""
    fee_minor: AmountMinor
    """The fee, in minor units of `currency`."""
    net_minor: AmountMinor
    """What the creator is paid: gross_minor - fee_minor, in minor units."""
    currency: Currency
    """ISO 4217 currency of the payout."""
    minor_per_diamond: Rate
    """Cash per diamond, in minor units of `currency`"""
    rate_version: RateVersion
    """The cash rate version (policy.diamond_cash_rate_set) applied."""
    method: Identifier
    """The payout method the creator chose."""
    fee_ppm: StrictInt | None = Field(default=None, ge=0, le=1_000_000)
    """Added without a version bump (optional): the fee terms of `rate_version`, so the
    fee can be recomputed from the event alone."""
    fee_fixed_minor: AmountMinor | None = None
    """Added without a version bump (optional): the fixed part of the fee of `rate_version`, in
    minor units."""
    limits_rate_version: RateVersion | None = None
    """Added without a version bump (optional): the payout limits checked."""


class PayoutRejected(PayoutEvent):
    type: Literal["payout.payout_rejected"] = "payout.payout_rejected"
    schema_version: Literal[1] = 1
    payout_id: Identifier
    """The payout requested."""
    diamonds: StrictInt
    """Diamonds the creator asked to pay out."""
    reason: PayoutRejection
    """Why the payout was refused."""


class PayoutPosted(PayoutEvent):
    type: Literal["payout.payout_posted"] = "payout.payout_posted"
    schema_version: Literal[1] = 1
    payout_id: Identifier
    """The payout that succeeded."""
    diamonds: StrictInt
    """Diamonds paid out, no longer reserved."""
    net_minor: AmountMinor
    """Cash paid to the creator, in minor units of `currency`."""
    currency: Currency
    """ISO 4217 currency of the payout."""
    provider_reference: Identifier
    """The provider's reference of the transfer."""


class PayoutReleased(PayoutEvent):
    """The provider failed: the reservation is voided and the diamonds are available again."""

    type: Literal["payout.payout_released"] = "payout.payout_released"
    schema_version: Literal[1] = 1
    payout_id: Identifier
    """The payout that failed."""
    diamonds: StrictInt
    """Diamonds released back to available."""
    reason: str
    """Why the provider failed it."""


class CreatorVerificationRecorded(PayoutEvent):
    """The payout service took note of the user service's verdict (users.creator_verified),
    so its own ledger alone explains why a payout was allowed or refused."""

    type: Literal["payout.creator_verification_recorded"] = "payout.creator_verification_recorded"
    schema_version: Literal[1] = 1
    verified: StrictBool
    """Whether the creator may be paid out."""
