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


class DiamondsEarned(PayoutEvent):
    type: Literal["payout.diamonds_earned"] = "payout.diamonds_earned"
    schema_version: Literal[1] = 1
    request_id: Identifier
    sender_id: Identifier
    coins: PositiveCoins
    diamonds: Diamonds
    diamonds_per_coin: Share
    rate_version: RateVersion
    available_at: Timestamp
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
    purchase_id: Identifier
    diamonds: Diamonds
    from_held: Diamonds
    from_available: Diamonds
    to_debt: Diamonds
    coins: Coins = 0
    """Added without a version bump (optional): the gift's coins the clawed purchase had
    funded, which set `diamonds` pro rata (0 on events written before it existed)."""


class PayoutReserved(PayoutEvent):
    type: Literal["payout.payout_reserved"] = "payout.payout_reserved"
    schema_version: Literal[1] = 1
    payout_id: Identifier
    diamonds: StrictInt = Field(gt=0)
    gross_minor: AmountMinor
    fee_minor: AmountMinor
    net_minor: AmountMinor
    currency: Currency
    minor_per_diamond: Rate
    rate_version: RateVersion
    method: Identifier
    fee_ppm: StrictInt | None = Field(default=None, ge=0, le=1_000_000)
    """Added without a version bump (optional): the fee terms of `rate_version`, so the
    fee can be recomputed from the event alone."""
    fee_fixed_minor: AmountMinor | None = None
    limits_rate_version: RateVersion | None = None
    """Added without a version bump (optional): the payout limits checked."""


class PayoutRejected(PayoutEvent):
    type: Literal["payout.payout_rejected"] = "payout.payout_rejected"
    schema_version: Literal[1] = 1
    payout_id: Identifier
    diamonds: StrictInt
    reason: PayoutRejection


class PayoutPosted(PayoutEvent):
    type: Literal["payout.payout_posted"] = "payout.payout_posted"
    schema_version: Literal[1] = 1
    payout_id: Identifier
    diamonds: StrictInt
    net_minor: AmountMinor
    currency: Currency
    provider_reference: Identifier


class PayoutReleased(PayoutEvent):
    """The provider failed: the reservation is voided and the diamonds are available again."""

    type: Literal["payout.payout_released"] = "payout.payout_released"
    schema_version: Literal[1] = 1
    payout_id: Identifier
    diamonds: StrictInt
    reason: str


class CreatorVerificationRecorded(PayoutEvent):
    """The payout service took note of the user service's verdict (users.creator_verified),
    so its own ledger alone explains why a payout was allowed or refused."""

    type: Literal["payout.creator_verification_recorded"] = "payout.creator_verification_recorded"
    schema_version: Literal[1] = 1
    verified: StrictBool
