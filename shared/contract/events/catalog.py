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
    catalog_version: StrictInt = Field(ge=1)


class GiftListed(GiftEvent):
    type: Literal["catalog.gift_listed"] = "catalog.gift_listed"
    schema_version: Literal[1] = 1
    name: str = Field(min_length=1, max_length=64)
    coins: PositiveCoins


class GiftRepriced(GiftEvent):
    type: Literal["catalog.gift_repriced"] = "catalog.gift_repriced"
    schema_version: Literal[1] = 1
    coins: PositiveCoins


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
    multiplier: Multiplier
    gift_ids: tuple[Identifier, ...] = ()
    """Empty means every gift."""
    starts_at: Timestamp
    ends_at: Timestamp


class CampaignEnded(Event):
    key_field = "campaign_id"
    type: Literal["catalog.campaign_ended"] = "catalog.campaign_ended"
    schema_version: Literal[1] = 1
    producer: Identifier = "catalog"
    campaign_id: Identifier
