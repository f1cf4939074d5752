"""What the gifting service's HTTP reads answer: coins and points are integers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class GiftStatus(StrEnum):
    """Where a gift request stands (the CHECK of gifts.status)."""

    priced = "priced"
    """Valid and priced: waiting for the wallet's debit."""
    sent = "sent"
    failed = "failed"
    """The wallet refused the debit; `reason` says why."""
    rejected = "rejected"
    """Gifting refused the request; `reason` says why."""


class Stream(BaseModel):
    stream_id: str
    creator_id: str
    started_at: datetime | None
    ended_at: datetime | None
    live: bool = Field(description="Started and not ended")
    sends: int = Field(ge=0, description="Gift requests delivered")
    gifts: int = Field(ge=0, description="Units delivered (a combo of 99 roses counts 99)")
    coins: int = Field(ge=0)
    points: int = Field(ge=0)
    senders: int = Field(ge=0, description="Distinct viewers who sent a gift")
    creator_adult: bool


class Gifter(BaseModel):
    rank: int = Field(ge=1)
    sender_id: str
    points: int = Field(ge=0)
    coins: int = Field(ge=0)
    gifts: int = Field(ge=0)


class StreamLeaderboard(BaseModel):
    """Best first: more points, then more coins, then the smaller sender_id."""

    stream_id: str
    top: list[Gifter]


class CreatorLeaderboard(BaseModel):
    """Best first: more points, then more coins, then the smaller sender_id."""

    creator_id: str
    top: list[Gifter]


class Gift(BaseModel):
    request_id: str
    sender_id: str
    stream_id: str
    creator_id: str | None
    gift_id: str
    quantity: int
    coins: int | None = Field(description="The price; null when rejected before pricing")
    points: int | None
    catalog_version: int | None
    campaign_id: str | None
    status: GiftStatus
    reason: str | None = Field(description="Why it failed (the wallet's refusal) or was "
                                           "rejected (gifting's); null otherwise")
    requested_at: datetime


class CatalogGift(BaseModel):
    gift_id: str
    name: str
    coins: int = Field(gt=0)
    catalog_version: int


class Catalog(BaseModel):
    """Cheapest first."""

    gifts: list[CatalogGift]
