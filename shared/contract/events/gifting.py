"""Published by the gifting service: priced gift orders and their outcomes."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, StrictInt

from shared.contract.envelope import Event
from shared.contract.types import Coins, Identifier, Multiplier, PositiveCoins


class GiftRejection(StrEnum):
    """Why gifting refused a request. Values are part of the contract; never reuse one."""

    stream_not_live = "stream_not_live"
    unknown_gift = "unknown_gift"
    gift_retired = "gift_retired"
    self_gift = "self_gift"
    bad_quantity = "bad_quantity"
    creator_not_adult = "creator_not_adult"
    """The stream's creator is not known to be 18 or older: minors may not receive gifts."""


class GiftingEvent(Event):
    key_field = "sender_id"
    producer: Identifier = "gifting"
    request_id: Identifier
    """The gift request this order answers (streams.gift_requested)."""
    sender_id: Identifier
    """The viewer sending the gift."""
    stream_id: Identifier
    """The stream the gift is sent in."""


class GiftPriced(GiftingEvent):
    """A valid request with its price fixed by the catalog version in effect: the wallet's
    debit order."""

    type: Literal["gifting.gift_priced"] = "gifting.gift_priced"
    schema_version: Literal[1] = 1
    creator_id: Identifier
    """The stream's creator, who receives the gift."""
    gift_id: Identifier
    """The catalog's id of the gift."""
    quantity: StrictInt = Field(ge=1, le=9999)
    """Units of the gift sent at once."""
    unit_coins: PositiveCoins
    """Price of one unit, in coins, at `catalog_version`."""
    coins: PositiveCoins
    """The order's total price in coins: quantity times unit_coins."""
    catalog_version: StrictInt = Field(ge=1)
    """The catalog version the price was taken from."""
    campaign_id: Identifier | None = None
    """The campaign whose multiplier applies, or null."""
    points_multiplier: Multiplier
    """The campaign multiplier applied to the points (1 without a campaign)"""
    points: Coins
    """Leaderboard points: coins times the campaign multiplier, rounded down."""


class GiftRejected(GiftingEvent):
    type: Literal["gifting.gift_rejected"] = "gifting.gift_rejected"
    schema_version: Literal[1] = 1
    reason: GiftRejection
    """Why gifting refused the request."""


class GiftSent(GiftingEvent):
    """The wallet debited the sender: the gift is delivered and counts on leaderboards."""

    type: Literal["gifting.gift_sent"] = "gifting.gift_sent"
    schema_version: Literal[1] = 1
    creator_id: Identifier
    """The creator who receives the gift."""
    coins: PositiveCoins
    """Coins the wallet debited for the gift."""
    points: Coins
    """Leaderboard points the gift counts for."""
    gift_id: Identifier | None = None
    """Added without a version bump (optional): which gift, for per-gift totals."""
    quantity: StrictInt | None = Field(default=None, ge=1, le=9999)
    """Added without a version bump (optional): units sent, so totals count a combo of 99 roses
    as 99 gifts. Absent on events written before it existed; readers count those as 1."""


class GiftFailed(GiftingEvent):
    type: Literal["gifting.gift_failed"] = "gifting.gift_failed"
    schema_version: Literal[1] = 1
    reason: str
    """Why the wallet refused the debit (its SpendRejection value)."""
