"""Published by catalog operations: gift prices and campaigns, each change a new version."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt

from shared.contract.envelope import Event
from shared.contract.types import Identifier, Multiplier, PositiveCoins, Timestamp


class GiftEvent(Event):
    key_field = "gift_id"
    producer: Identifier = "catalog"
    gift_id: Identifier
    """The catalog's id of the gift."""
    catalog_version: StrictInt = Field(ge=1)
    """The catalog version of this change; it applies only if higher than the gift's current
    version."""


class GiftListed(GiftEvent):
    type: Literal["catalog.gift_listed"] = "catalog.gift_listed"
    schema_version: Literal[1] = 1
    name: str = Field(min_length=1, max_length=64)
    """Display name of the gift."""
    coins: PositiveCoins
    """Price of one unit of the gift, in coins."""


class GiftRepriced(GiftEvent):
    type: Literal["catalog.gift_repriced"] = "catalog.gift_repriced"
    schema_version: Literal[1] = 1
    coins: PositiveCoins
    """The new price of one unit of the gift, in coins."""


class GiftRetired(GiftEvent):
    type: Literal["catalog.gift_retired"] = "catalog.gift_retired"
    schema_version: Literal[1] = 1


class CampaignStarted(Event):
    """Boosts leaderboard points of gifts in a window. Never changes coins or cash."""

    key_field = "campaign_id"
    type: Literal["catalog.campaign_started"] = "catalog.campaign_started"
    schema_version: Literal[1] = 1
    producer: Identifier = "catalog"
    campaign_id: Identifier
    """The campaign's id."""
    multiplier: Multiplier
    """Factor on the leaderboard points of the campaign's gifts"""
    gift_ids: tuple[Identifier, ...] = ()
    """Empty means every gift."""
    starts_at: Timestamp
    """Start of the campaign's window."""
    ends_at: Timestamp
    """End of the campaign's window."""


class CampaignEnded(Event):
    key_field = "campaign_id"
    type: Literal["catalog.campaign_ended"] = "catalog.campaign_ended"
    schema_version: Literal[1] = 1
    producer: Identifier = "catalog"
    campaign_id: Identifier
    """The campaign that ended."""
