"""Published by the payout service, the single writer of diamond balances and payouts."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import StrictInt, AwareDatetime, Field

from shared.contract.envelope import Event
from shared.contract.types import (
    AmountMinor,
    Currency,
    Diamonds,
    Identifier,
    PositiveCoins,
    Rate,
    RateVersion,
    Share,
)


class PayoutRejection(StrEnum):
    """Why a payout request was refused. Values are part of the contract; never reuse one."""

    creator_not_verified = "creator_not_verified"
    below_minimum = "below_minimum"
    daily_limit_exceeded = "daily_limit_exceeded"
    insufficient_diamonds = "insufficient_diamonds"
    no_cash_rate = "no_cash_rate"
    duplicate_payout = "duplicate_payout"


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
    available_at: AwareDatetime


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
